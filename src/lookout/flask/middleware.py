"""The WSGI middleware that LookoutFlask puts around ``app.wsgi_app``: every request passes
here. It times the whole request, from before Flask matches its URL to the last byte of a
streamed body, sees its status and headers as they leave, and appends one tuple to the
Recorder's queue; events are built later, in the dispatcher (:mod:`lookout.flask.sources`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, request

from lookout.flask.context import STATE_KEY, RequestState
from lookout.flask.ids import is_valid_request_id, new_request_id
from lookout.flask.options import AppConfig
from lookout.flask.sources import METRICS, RequestSource
from lookout.flask.streaming import EMPTY_STATUSES, CountingBody
from lookout.flask.tracking import GTracking
from lookout.flask.watching import LevelWatch

if TYPE_CHECKING:
    from lookout.core import Lookout

logger = logging.getLogger("lookout.flask")
_perf_ns = time.perf_counter_ns


class AppHooks:
    """The request hooks of one app (one LookoutFlask may serve several apps): the middleware
    itself, with the level watch and the g tracking it drives."""

    def __init__(self, lookout: Lookout, config: AppConfig, app: Flask) -> None:
        self.lookout = lookout
        self.config = config
        self.recorder = lookout.recorder
        self.source = RequestSource(config)
        self.app = app
        self._hook_lock = threading.Lock()
        self.watch = LevelWatch(lookout, config, app, self._hook_lock)
        self.tracking = GTracking(lookout, config, app, self._hook_lock)
        #: read by every request: the same objects as the watch's, one attribute away
        self.levels = self.watch.levels
        self.sampler = self.watch.sampler
        #: the WSGI environ key of the request id header, read without building Headers
        self._request_id_environ_key = "HTTP_" + config.request_id_header.upper().replace("-", "_")
        self._levels_started = False
        #: the app's WSGI callable, which Lookout's middleware (this object) wraps
        self.wsgi_app: Callable[..., Any] = app.wsgi_app
        #: the built-in generator needs none of the checks a user's callable gets
        self._new_request_id: Callable[[], str] = (
            new_request_id
            if config.request_id_generator is new_request_id
            else self._generate_request_id
        )
        self._header = (config.request_id_header, config.request_id_header.lower())

    @property
    def watching(self) -> bool:
        """Some endpoint is at level 2 or 3."""
        return self.watch.watching

    def levels_changed(self) -> None:
        self.watch.levels_changed()

    def set_level(self, endpoint: str, level: int) -> None:
        """Change an endpoint's monitoring level (0 off ... 3 profiling) in every process."""
        self.watch.set_level(endpoint, level)

    def ensure_context_hook(self) -> None:
        self.tracking.ensure_context_hook()

    # -- the middleware: every request passes here ------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Wraps ``app.wsgi_app``: times the whole request, from before Flask matches its URL to
        the last byte of a streamed body, and sees its status and headers as they leave."""
        t0 = _perf_ns()
        if not self._levels_started:
            # Started by the first request, not at set-up: a gunicorn --preload master must
            # not run threads touching the store when it forks its workers.
            self._levels_started = True
            self.levels.start()
        incoming = environ.get(self._request_id_environ_key)
        if incoming is not None and is_valid_request_id(incoming):
            rid = incoming
        else:
            rid = self._new_request_id()
        state = RequestState(t0, rid, start_response, self._header)
        environ[STATE_KEY] = state
        try:
            body = self.wsgi_app(environ, state.start_response)
        except BaseException as exc:  # propagated (PROPAGATE_EXCEPTIONS, testing): a 500
            if state.error is None:
                state.error, state.tb = exc, exc.__traceback__
            self._finish(environ, state)
            raise
        if state.content_length is None and not state.status.startswith(EMPTY_STATUSES):
            # The work goes on while the body streams: time it until the server closes it.
            return CountingBody(body, state, lambda: self._finish(environ, state))
        state.size = state.content_length
        self._finish(environ, state)
        return body

    def on_exception(self, sender: Flask, exception: BaseException, **_: Any) -> None:
        state: RequestState | None = request.environ.get(STATE_KEY)
        if state is None:
            return
        if state.error is None:
            state.error, state.tb = exception, exception.__traceback__
        if state.request is None:  # it propagates: start_response will not see the request
            state.request = request._get_current_object()  # type: ignore[attr-defined]

    # -- capture ----------------------------------------------------------------------------------
    def _finish(self, environ: dict[str, Any], state: RequestState) -> None:
        """Queue the request's event (and its metrics) unless its endpoint is not recorded."""
        if state.finished:
            return
        state.finished = True
        t1 = _perf_ns()
        req = state.request
        state.request = None  # environ -> state -> request -> environ: let refcounting free it
        try:
            rule = None if req is None else req.url_rule
            endpoint = None if rule is None else rule.endpoint
            config = self.config
            if endpoint in config.exclude_endpoints:
                return
            levels = self.levels
            if levels.levels.get(endpoint or "", levels.default_level) == 0:
                return
            extra = state.extra
            if state.watched is not None:
                extra = self.watch.sampled_fields(state, req, t1 - state.t0, extra)
            group = state.group
            recorder = self.recorder
            ingress = recorder.ingress
            if len(ingress) >= recorder.queue_size:  # Recorder.submit, inlined: full
                recorder.count_drop()
                return
            ingress.append(
                (
                    self.source,
                    state.t0,
                    t1,
                    endpoint,
                    environ["REQUEST_METHOD"],  # bounded, and the status read, later
                    state.status,
                    state.size,
                    state.request_id,
                    None if group is None else str(group)[:255],
                    environ.get("REMOTE_ADDR"),
                    environ.get("HTTP_X_FORWARDED_FOR") if config.trusted_proxies else None,
                    None if rule is None else rule.rule,
                    req.path if req is not None else environ.get("PATH_INFO", ""),
                    environ.get("HTTP_USER_AGENT") if config.record_user_agent else None,
                    extra,
                    state.error,
                    state.tb,
                )
            )
            if state.metrics:
                for name, value, unit, dimensions in state.metrics:
                    recorder.submit(
                        (METRICS, t1, name, value, unit, dimensions, state.request_id, endpoint)
                    )
        except Exception:
            if self.config.raise_exceptions:
                raise
            logger.exception("lookout: recording a request failed (the response is unchanged)")

    def _generate_request_id(self) -> str:
        try:
            rid = self.config.request_id_generator()
            if not isinstance(rid, str) or not rid:
                raise TypeError(f"request_id_generator returned {rid!r}, not a string")
            return rid[:128]
        except Exception:
            if self.config.raise_exceptions:
                raise
            logger.exception("lookout: request_id_generator failed; using a uuid4")
            return new_request_id()
