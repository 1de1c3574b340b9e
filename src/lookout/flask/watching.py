"""Monitoring levels at work: the endpoints' levels (shared through the store), and, while
some endpoint is at level 2 or 3, a ``before_request`` hook that lets the stack sampler watch a
request's thread, whose samples become outlier details and profiles when the request ends."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, request

from lookout.flask.context import STATE_KEY, RequestState
from lookout.flask.levels import EndpointLevels
from lookout.flask.options import AppConfig
from lookout.flask.sampler import StackSampler, WatchedRequest, rss_bytes

if TYPE_CHECKING:
    from lookout.core import Lookout


class LevelWatch:
    """The levels, the sampler and the watching hook of one app."""

    def __init__(
        self, lookout: Lookout, config: AppConfig, app: Flask, hook_lock: threading.Lock
    ) -> None:
        self.config = config
        self.app = app
        self._hook_lock = hook_lock
        self.levels = EndpointLevels(
            app.name,
            lambda: lookout.store,
            default_level=config.default_level,
            outlier_constant=config.outlier_constant,
            outlier_rule=config.outlier_rule,
            outlier_warmup=config.outlier_warmup,
            refresh_interval=config.level_refresh_interval,
            endpoints=lambda: sorted(
                endpoint
                for endpoint in app.view_functions
                if endpoint not in config.exclude_endpoints
            ),
        )
        self.sampler = StackSampler(config.sampler_interval)
        #: some endpoint is at level 2 or 3: requests must be looked at as they start
        self.watching = config.default_level >= 2

    def watch_slow_requests(self) -> None:
        """``before_request`` hook, first in line while some endpoint is at level 2 or 3: lets
        the sampler look at the request's thread while the view runs."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        state: RequestState | None = req.environ.get(STATE_KEY)
        if state is not None:
            self._watch(state, req.endpoint)

    def _watch(self, state: RequestState, endpoint: str | None) -> None:
        if endpoint in self.config.exclude_endpoints:
            return
        levels = self.levels
        level = levels.levels.get(endpoint or "", levels.default_level)
        threshold_ns = levels.thresholds_ns.get(endpoint or "")
        if level < 2 or (threshold_ns is None and level < 3):
            return  # no outlier threshold yet (warm-up) and no profiling
        view = self.app.view_functions.get(endpoint or "")
        state.watched = WatchedRequest(
            state.t0,
            threshold_ns,
            profile=level >= 3,
            view_code=getattr(view, "__code__", None),
            cpu0_ns=time.thread_time_ns(),
        )
        state.thread_id = threading.get_ident()
        self.sampler.watch(state.thread_id, state.watched)

    def sampled_fields(
        self,
        state: RequestState,
        req: Request | None,
        duration_ns: int,
        extra: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """Outlier details and the profile of a watched request, as event fields."""
        watched = state.watched
        assert watched is not None
        self.sampler.unwatch(state.thread_id)
        fields = dict(extra or {})
        threshold = watched.outlier_after_ns
        outlier = threshold is not None and duration_ns > threshold
        cpu_ms = None
        if (outlier or watched.profile is not None) and threading.get_ident() == state.thread_id:
            # the CPU clock of the request's thread since it was watched (a streamed body
            # closed on another thread has none)
            cpu_ms = round((time.thread_time_ns() - watched.cpu0_ns) / 1e6, 3)
        if outlier:
            assert threshold is not None
            details = {}
            if req is not None:
                details = {
                    "headers": dict(req.headers),
                    "args": req.args.to_dict(flat=False),
                    "view_args": dict(req.view_args or {}),
                }
            rss = watched.rss_bytes if watched.rss_bytes is not None else rss_bytes()
            fields["outlier"] = {
                "threshold_ms": round(threshold / 1e6, 3),
                **details,
                "stacks": list(watched.stacks),
                "cpu_ms": cpu_ms,
                "memory_rss_bytes": rss,
            }
        if watched.profile is not None:
            # [[folded path, ms, samples], ...], busiest first; a list, not a dict, because
            # the paths are not field names (redaction must not touch "sessions.py:open").
            busiest = sorted(watched.profile.items(), key=lambda item: -item[1][0])
            fields["profile"] = [[path, round(ms, 3), int(n)] for path, (ms, n) in busiest]
            fields["profile_interval_ms"] = self.sampler.interval * 1000
            fields["profile_cpu_ms"] = cpu_ms
            # [[file:line, code], ...]: a list, for the same reason as the paths; copied in one
            # step first, as the sampler may still be adding to it
            sources = list((watched.sources or {}).items())
            fields["profile_source"] = [[at, code] for at, code in sources]
        return fields or None

    def set_level(self, endpoint: str, level: int) -> None:
        """Change an endpoint's monitoring level (0 off ... 3 profiling) in every process."""
        if endpoint not in self.app.view_functions:
            import difflib

            close = difflib.get_close_matches(endpoint, list(self.app.view_functions), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"set_level: app {self.app.name!r} has no endpoint {endpoint!r}{hint}")
        self.levels.set_level(endpoint, level)

    def levels_changed(self) -> None:
        """Called when levels change (here or read from the store): profiling needs a hook."""
        levels = self.levels
        watching = levels.default_level >= 2 or any(level >= 2 for level in levels.levels.values())
        with self._hook_lock:
            self.watching = watching
            hooks = self.app.before_request_funcs.setdefault(None, [])
            present = self.watch_slow_requests in hooks
            if watching and not present:
                hooks.insert(0, self.watch_slow_requests)
            elif present and not watching:
                hooks.remove(self.watch_slow_requests)
