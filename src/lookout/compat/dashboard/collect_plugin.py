"""The pytest plugin ``collect_performance`` runs the tests with, beside Lookout's own plugin:
one JSON line per test (to ``$LOOKOUT_FMD_RUNS``) with the times FMD's script logged around the
test (its start and end, which endpoint_hits.log lines fall between), each repeat's call
duration in milliseconds (Lookout's ``--lookout-repeat``: the call's report carries them) and
whether it passed."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

_tests: dict[str, dict[str, Any]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[None]:
    start, t0 = str(dt.datetime.now()), time.perf_counter()
    _tests[item.nodeid] = {"failed": False, "durations_ms": []}
    yield
    whole_ms = (time.perf_counter() - t0) * 1000
    stop = str(dt.datetime.now())
    found = _tests.pop(item.nodeid)
    output = os.environ.get("LOOKOUT_FMD_RUNS")
    if output:
        record = {
            "name": item.nodeid,
            "durations_ms": found["durations_ms"] or [whole_ms],
            "time": stop,
            "successful": not found["failed"],
            "start": start,
            "stop": stop,
        }
        with open(output, "a") as out:
            out.write(json.dumps(record) + "\n")


def pytest_runtest_logreport(report: Any) -> None:
    found = _tests.get(report.nodeid)
    if found is None:
        return
    if report.failed:
        found["failed"] = True
    if report.when == "call":
        found["durations_ms"] = [d / 1e6 for d in getattr(report, "lookout_durations_ns", [])]
