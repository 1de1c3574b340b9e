"""Flask-MonitoringDashboard's test-result submissions, stored as Lookout test runs.

FMD's ``collect_performance`` (every release that had it, and Lookout's own
``python -m lookout.compat.dashboard.collect_performance``) POSTs one JSON document to the
dashboard's ``submit-test-results`` route::

    {"test_runs": [{"name": ..., "exec_time": ms, "time": "2026-12-03 14:00:00.123456",
                    "successful": true, "iter": 1}, ...],
     "grouped_tests": [{"endpoint": ..., "test_name": ...}, ...],
     "app_version": "1.4", "travis_job": "123.1"}          # the last two from FMD 1.12 on

Each test becomes one result of one run: its ``exec_time`` of every iteration are the run's
repeats (in nanoseconds), it passed when every iteration did, and the endpoints FMD grouped it
with are its endpoint hits (FMD logged no per-request durations, so they have none). The run's
key is a digest of the document, so a submission sent twice is stored once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from typing import Any

from lookout.testruns.document import EndpointHits, RunDocument, TestResult, bound_name

TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


def _when_ns(text: Any) -> int | None:
    """FMD's ``str(datetime.now())`` (local time) in nanoseconds since the epoch."""
    if not isinstance(text, str):
        return None
    for layout in TIME_FORMATS:
        try:
            return int(dt.datetime.strptime(text.strip(), layout).timestamp() * 1e9)
        except ValueError:
            continue
    return None


def _item(raw: Any, where: str) -> tuple[str, float, bool, int, int | None]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name: expected the test's name")
    exec_time = raw.get("exec_time")
    if isinstance(exec_time, bool) or not isinstance(exec_time, int | float) or exec_time < 0:
        raise ValueError(f"{where}.exec_time: expected milliseconds >= 0, got {exec_time!r}")
    iteration = raw.get("iter", 1)
    if isinstance(iteration, bool) or not isinstance(iteration, int):
        raise ValueError(f"{where}.iter: expected an integer, got {iteration!r}")
    return name, float(exec_time), bool(raw.get("successful")), iteration, _when_ns(raw.get("time"))


def to_run(raw: Any, *, host: str = "") -> RunDocument:
    """A run document from FMD's submission; ``ValueError`` names the first bad field."""
    if not isinstance(raw, dict) or not isinstance(raw.get("test_runs"), list):
        raise ValueError("test_runs: expected FMD's {'test_runs': [...]} document")
    grouped = raw.get("grouped_tests") or []
    if not isinstance(grouped, list):
        raise ValueError("grouped_tests: expected a list")
    tests: dict[str, list[tuple[int, float, bool]]] = {}
    times: list[int] = []
    for index, item in enumerate(raw["test_runs"]):
        name, exec_ms, successful, iteration, when = _item(item, f"test_runs[{index}]")
        tests.setdefault(name, []).append((iteration, exec_ms, successful))
        if when is not None:  # logged as each test ended: its start is exec_time earlier
            times.append(when - int(exec_ms * 1e6))
    endpoints: dict[str, list[str]] = {}
    for index, pair in enumerate(grouped):
        if not isinstance(pair, dict) or not isinstance(pair.get("test_name"), str):
            raise ValueError(f"grouped_tests[{index}]: expected {{'endpoint', 'test_name'}}")
        endpoint = str(pair.get("endpoint") or "[unmatched]")
        endpoints.setdefault(pair["test_name"], []).append(endpoint)
    results = []
    for name, iterations in tests.items():
        iterations.sort(key=lambda entry: entry[0])
        failed = sum(1 for _, _, ok in iterations if not ok)
        results.append(
            TestResult(
                name=bound_name(name),
                outcome="failed" if failed else "passed",
                durations_ns=[int(ms * 1e6) for _, ms, _ in iterations],
                message=f"failed in {failed} of {len(iterations)} iterations" if failed else None,
                endpoints=[
                    EndpointHits(endpoint[:255], "", [])
                    for endpoint in dict.fromkeys(endpoints.get(name, []))
                ],
            )
        )
    total_ms = sum(ms for entries in tests.values() for _, ms, _ in entries)
    started_ns = min(times) if times else time.time_ns()
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    travis_job = raw.get("travis_job")
    return RunDocument(
        key=f"fmd-{digest[:48]}",
        started_ns=max(0, started_ns),
        duration_ns=int(total_ms * 1e6),
        exit_status=int(any(result.outcome == "failed" for result in results)),
        repeat=max((len(entries) for entries in tests.values()), default=1),
        identity={
            "version": str(raw.get("app_version") or "").strip(),
            "ci_provider": "travis" if travis_job else "",
            "ci_run_id": str(travis_job or ""),
            "host": host,
        },
        results=results,
    )
