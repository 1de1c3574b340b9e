"""The pytest plugin ``collect_performance`` runs the tests with: one JSON line per test (to
``$LOOKOUT_FMD_RUNS``) with the times FMD's script logged around each test, its duration in
milliseconds and whether it passed."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

_failed: dict[str, bool] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[None]:
    start, t0 = str(dt.datetime.now()), time.perf_counter()
    _failed[item.nodeid] = False
    yield
    exec_ms = (time.perf_counter() - t0) * 1000
    stop = str(dt.datetime.now())
    output = os.environ.get("LOOKOUT_FMD_RUNS")
    if output:
        record = {
            "name": item.nodeid,
            "exec_time": exec_ms,
            "time": stop,
            "successful": not _failed.pop(item.nodeid, False),
            "start": start,
            "stop": stop,
        }
        with open(output, "a") as out:
            out.write(json.dumps(record) + "\n")


def pytest_runtest_logreport(report: Any) -> None:
    if report.failed:
        _failed[report.nodeid] = True
