"""A pytest plugin that records each test's duration and outcome, for the dashboard's Tests page.

    pytest --lookout-store sqlite:///lookout.db          # or LOOKOUT_PYTEST_STORE=...
    pytest --lookout-store postgresql://ci@db/lookout --lookout-version "$GIT_SHA"

Each test's call phase becomes a ``call`` event named ``test:<node id>`` (a failing setup is
recorded too), with its outcome and file; the whole session becomes a ``run`` event named
``pytest`` with the counts. Tracking a suite's speed per version shows which change made it
slower. The plugin does nothing unless a store is given.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from lookout.events import make_event

if TYPE_CHECKING:
    from lookout.core import Lookout

TEST_PREFIX = "test:"
_STATE: dict[str, Any] = {}


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("lookout", "recording test durations with Lookout")
    group.addoption(
        "--lookout-store",
        default=None,
        help="record each test's duration and outcome into this store "
        "(default: $LOOKOUT_PYTEST_STORE; none: off)",
    )
    group.addoption(
        "--lookout-version",
        default=None,
        help="the version under test (default: $LOOKOUT_APP_VERSION)",
    )


def pytest_configure(config: Any) -> None:
    store = config.getoption("--lookout-store") or os.environ.get("LOOKOUT_PYTEST_STORE")
    if not store:
        return
    from lookout.core import Lookout

    version = config.getoption("--lookout-version") or os.environ.get("LOOKOUT_APP_VERSION")
    _STATE["lookout"] = Lookout(store=store, app_version=version, handle_sigterm=False)
    _STATE["started_ns"] = time.time_ns()
    _STATE["counts"] = {}


def pytest_runtest_logreport(report: Any) -> None:
    lookout: Lookout | None = _STATE.get("lookout")
    if lookout is None:
        return
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    outcome = report.outcome
    counts: dict[str, int] = _STATE["counts"]
    counts[outcome] = counts.get(outcome, 0) + 1
    duration_ns = int(report.duration * 1e9)
    lookout.emit(
        make_event(
            "call",
            TEST_PREFIX + report.nodeid,
            start_ns=time.time_ns() - duration_ns,
            duration_ns=duration_ns,
            outcome="error" if outcome == "failed" else "ok",
            tags={"suite": "pytest", "phase": report.when},
            fields={"outcome": outcome, "file": str(report.location[0])},
        )
    )


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    lookout: Lookout | None = _STATE.pop("lookout", None)
    if lookout is None:
        return
    started_ns = _STATE["started_ns"]
    counts = _STATE["counts"]
    lookout.emit(
        make_event(
            "run",
            "pytest",
            start_ns=started_ns,
            duration_ns=time.time_ns() - started_ns,
            outcome="error" if counts.get("failed") else "ok",
            status=int(exitstatus),
            fields={"summary": ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))},
        )
    )
    lookout.close()
