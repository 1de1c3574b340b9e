from __future__ import annotations

import json
import logging

import pytest

from lookout import Lookout, make_event
from lookout.sinks.console import LoggingSink


def test_each_event_is_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.events")
    lk = Lookout(
        store=None, sinks=[LoggingSink("app.events")], batch_interval=0.01, app_version="2.3"
    )
    charge = lk.monitor(name="payments.charge", extra={"api_key": "k", "amount": 5})(lambda: "ok")
    charge()
    lk.emit(
        make_event("request", "checkout", status=503, error=RuntimeError("down"), request_id="r-1")
    )
    assert lk.flush(5)
    lk.close()
    records = [r for r in caplog.records if r.name == "app.events"]
    assert [r.levelno for r in records] == [logging.INFO, logging.WARNING]
    call, request = (json.loads(r.getMessage()) for r in records)
    assert call["kind"] == "call" and call["name"] == "payments.charge"
    assert call["app_version"] == "2.3"
    assert call["fields"] == {"api_key": "k", "amount": 5}  # named by the caller: kept
    assert call["time"].endswith("+00:00") and call["duration_ms"] >= 0
    assert "request_id" not in call  # empty values are left out
    assert request["status"] == 503 and request["outcome"] == "error"
    assert request["error_type"] == "RuntimeError" and request["request_id"] == "r-1"


def test_disabled_logger_costs_nothing_and_check_describes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = LoggingSink("quiet.events")
    logging.getLogger("quiet.events").setLevel(logging.ERROR)
    sink.write([make_event("call", "x")])  # below the logger's level: nothing formatted
    assert not [r for r in caplog.records if r.name == "quiet.events"]
    assert "quiet.events" in sink.check()
