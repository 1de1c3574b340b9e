"""Turn pytest's reports into one run document, in the process that sees every report.

That is pytest itself, or the xdist controller, to which every worker sends its reports: so
the workers' tests land in one run, each with the worker that ran it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from lookout.testruns.document import (
    MAX_MESSAGE_CHARS,
    MAX_TRACEBACK_CHARS,
    EndpointHits,
    RunDocument,
    TestResult,
    bound_name,
)


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.when != "call" and report.failed:
        return "error"
    return str(report.outcome)


def _message(report: pytest.TestReport) -> str | None:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if message is None and report.longrepr is not None:
        message = str(report.longrepr).strip().splitlines()[-1:] or [""]
        message = message[0]
    return None if message is None else str(message)[:MAX_MESSAGE_CHARS]


def _worker(report: pytest.TestReport) -> str:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return str(getattr(gateway, "id", "") or "")


class Collector:
    """Gathers every test's phases into a :class:`TestResult` as reports arrive."""

    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.key = uuid.uuid4().hex
        self.started_ns = time.time_ns()
        self._started_perf = time.perf_counter_ns()
        self.results: dict[str, TestResult] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = self.results.get(report.nodeid)
        if result is None:
            result = TestResult(name=bound_name(report.nodeid), outcome="passed")
            result.worker = _worker(report)
            self.results[report.nodeid] = result
        duration_ns = int(report.duration * 1e9)
        if report.when == "setup":
            result.setup_ns = duration_ns
            if not report.passed:
                result.outcome = _outcome(report)
        elif report.when == "call":
            result.outcome = _outcome(report)
            result.durations_ns = list(getattr(report, "lookout_durations_ns", None) or [])
            if not result.durations_ns:
                result.durations_ns = [duration_ns]
            result.endpoints = [
                EndpointHits(str(endpoint)[:255], str(method)[:16], list(durations))
                for endpoint, method, durations in getattr(report, "lookout_endpoints", ())
            ]
        else:
            result.teardown_ns = duration_ns
            if report.failed and result.outcome in ("passed", "xpassed"):
                result.outcome = "error"
        if report.failed and result.message is None:
            result.message = _message(report)
            result.traceback = report.longreprtext[:MAX_TRACEBACK_CHARS] or None

    def document(self, exit_status: int, identity: dict[str, Any]) -> RunDocument:
        return RunDocument(
            key=self.key,
            started_ns=self.started_ns,
            duration_ns=time.perf_counter_ns() - self._started_perf,
            exit_status=int(exit_status),
            repeat=self.repeat,
            identity=identity,
            results=list(self.results.values()),
        )
