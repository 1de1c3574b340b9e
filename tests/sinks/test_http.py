"""The HTTP sink against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest

from lookout import Lookout, make_event
from lookout.sinks.http import HttpSink, parse_retry_after
from tests.receivers import Receiver


def _lookout(sink: HttpSink, **options: object) -> Lookout:
    settings: dict[str, object] = {"batch_interval": 0.01, "retry_backoff": 0.01}
    settings.update(options)
    return Lookout(store=None, sinks=[sink], **settings)


def test_batched_json_with_static_and_per_batch_headers(receiver: Receiver) -> None:
    sink = HttpSink(
        receiver.url,
        headers={"Authorization": "Bearer t0k", "X-Batch-Size": lambda batch: len(batch)},
    )
    lk = _lookout(sink)
    for n in range(3):
        lk.emit(make_event("call", f"f{n}", fields={"n": n, "password": "p"}))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["http"]
    lk.close()
    [request] = receiver.requests
    headers = request["headers"]
    assert headers["Authorization"] == "Bearer t0k"  # headers are sent, never redacted
    assert headers["X-Batch-Size"] == "3"
    assert headers["Content-Type"] == "application/json"
    documents = json.loads(request["body"])  # type: ignore[arg-type]
    assert [d["name"] for d in documents] == ["f0", "f1", "f2"]
    assert documents[0]["fields"] == {"n": 0, "password": "p"}  # named by the caller: kept
    assert stats["written"] == 3 and stats["failed"] == 0


def test_per_event_custom_payload_and_gzip(receiver: Receiver) -> None:
    sink = HttpSink(
        receiver.url,
        per_event=True,
        gzip_body=True,
        payload_generator=lambda event: {"fn": event.name, "ok": not event.is_error},
        headers={"X-Function": lambda event: event.name},
    )
    lk = _lookout(sink)
    lk.emit(make_event("call", "a"))
    lk.emit(make_event("call", "b", error=ValueError("x")))
    assert lk.flush(10)
    lk.close()
    bodies = [json.loads(r["body"]) for r in receiver.requests]  # type: ignore[arg-type]
    assert bodies == [{"fn": "a", "ok": True}, {"fn": "b", "ok": False}]
    assert [r["headers"]["X-Function"] for r in receiver.requests] == ["a", "b"]  # type: ignore[index]
    assert receiver.requests[0]["headers"]["Content-Encoding"] == "gzip"  # type: ignore[index]


def test_server_errors_are_retried_without_duplicates(receiver: Receiver) -> None:
    receiver.plan = [(200, {}), (503, {}), (200, {})]  # the 2nd event fails once
    sink = HttpSink(receiver.url, per_event=True)
    lk = _lookout(sink)
    for name in ("a", "b", "c"):
        lk.emit(make_event("call", name))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["http"]
    lk.close()
    names = [json.loads(r["body"])["name"] for r in receiver.requests]  # type: ignore[arg-type]
    assert names == ["a", "b", "b", "c"]  # a is not sent again when the batch is retried
    assert (stats["written"], stats["retried"], stats["failed"]) == (3, 1, 0)


def test_429_waits_for_retry_after(receiver: Receiver) -> None:
    receiver.plan = [(429, {"Retry-After": "1"})]
    lk = _lookout(HttpSink(receiver.url))
    lk.emit(make_event("call", "throttled"))
    assert lk.flush(10)
    lk.close()
    first, second = receiver.requests
    assert second["at"] - first["at"] >= 0.95  # type: ignore[operator]


@pytest.mark.parametrize(("status", "counter"), [(403, "failed"), (400, "invalid")])
def test_client_errors_fail_at_once(receiver: Receiver, status: int, counter: str) -> None:
    # 403 blames the request (failed); 400 the body: a one-event batch is that event, invalid
    receiver.plan = [(status, {})]
    lk = _lookout(HttpSink(receiver.url), max_retries=5)
    lk.emit(make_event("call", "rejected"))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["http"]
    lk.close()
    assert len(receiver.requests) == 1
    assert (stats[counter], stats["retried"], stats["written"]) == (1, 0, 0)
    assert f"answered {status}" in stats["last_error"]


def test_unreachable_endpoint_is_retried_then_counted() -> None:
    lk = _lookout(HttpSink("http://127.0.0.1:1/none", timeout=1), max_retries=2)
    lk.emit(make_event("call", "lost"))
    assert lk.flush(20)
    stats = lk.stats()["sinks"]["http"]
    lk.close()
    assert (stats["failed"], stats["retried"]) == (1, 2)
    assert stats["last_error"].startswith("ConnectionError")


def test_success_codes_check_and_validation(receiver: Receiver) -> None:
    receiver.plan = [(202, {})]
    sink = HttpSink(receiver.url, success_status_codes=[200])
    lk = _lookout(sink, max_retries=0)
    lk.emit(make_event("call", "x"))
    lk.flush(10)
    assert lk.stats()["sinks"]["http"]["failed"] == 1  # 202 was not declared a success
    lk.close()
    assert "reachable" in HttpSink(receiver.url).check()
    assert HttpSink(receiver.url).verify is True
    with pytest.raises(ValueError, match="http:// or https://"):
        HttpSink("ftp://example")


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after(later) or 0) <= 31
