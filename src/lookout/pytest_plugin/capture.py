"""What runs beside every test, in the process that runs it (an xdist worker or pytest itself).

It times each repeat of the call phase, notes the Flask requests the test made, and leaves
both on the call's report as plain lists (``lookout_durations_ns``, ``lookout_endpoints``),
which xdist carries to the controller with the rest of the report. Per test this costs two
clock readings per repeat and a few attribute writes; nothing is written anywhere here.

Endpoints: while a test runs, a receiver of Flask's ``request_tearing_down`` signal notes each
request that passed through LookoutFlask's middleware (its state in the WSGI environ), with the
time since the middleware started timing it, so the test's hits use the same clock as
production's request latency. Apps without LookoutFlask are not attributed, as the issue
asks; no configuration is needed in the application or its tests.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import pytest

_perf_ns = time.perf_counter_ns


class _TestState:
    __slots__ = ("durations_ns", "hits")

    def __init__(self) -> None:
        self.durations_ns: list[int] = []
        #: (endpoint, method) -> durations, in the order first hit
        self.hits: dict[tuple[str, str], list[int]] = {}


class Capture:
    """Registered as a pytest plugin when recording is on (``--lookout`` and friends)."""

    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        self.current: _TestState | None = None
        self._signal: Any = None
        self._connect_flask()

    # -- Flask -----------------------------------------------------------------------------
    def _connect_flask(self) -> None:
        try:
            from flask import request_tearing_down

            from lookout.flask.context import STATE_KEY
        except ImportError:  # no Flask here: no endpoints to attribute
            return
        self._state_key = STATE_KEY
        request_tearing_down.connect(self._on_request_done, weak=False)
        self._signal = request_tearing_down

    def _on_request_done(self, _sender: Any, **_kwargs: Any) -> None:
        current = self.current
        if current is None:
            return
        from flask import request

        environ = request.environ
        state = environ.get(self._state_key)
        if state is None:  # the app does not use LookoutFlask
            return
        rule = request.url_rule
        key = ("[unmatched]" if rule is None else str(rule.endpoint), request.method)
        current.hits.setdefault(key, []).append(_perf_ns() - state.t0)

    def close(self) -> None:
        if self._signal is not None:
            self._signal.disconnect(self._on_request_done)
            self._signal = None

    # -- the call phase ----------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """Runs the test's call ``repeat`` times, timing each: the first ``repeat - 1`` here,
        the last through pytest's own call (so its outcome is the test's). The innermost
        wrapper (``trylast``): output capture and logging wrap every repeat alike."""
        state = _TestState()
        self.current = state
        item.stash[_STATE] = state
        try:
            for _ in range(self.repeat - 1):
                started = _perf_ns()
                item.runtest()
                state.durations_ns.append(_perf_ns() - started)
            started = _perf_ns()
            try:
                return (yield)
            finally:
                state.durations_ns.append(_perf_ns() - started)
        finally:
            self.current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "call":
            state = item.stash.get(_STATE, None)
            if state is not None:
                report.lookout_durations_ns = state.durations_ns  # type: ignore[attr-defined]
                report.lookout_endpoints = [  # type: ignore[attr-defined]
                    [endpoint, method, durations]
                    for (endpoint, method), durations in state.hits.items()
                ]
                del item.stash[_STATE]
        return report


_STATE = pytest.StashKey[_TestState]()
