"""``LookoutFlask``: records every request of a Flask app as a ``request`` event.

The extension wraps ``app.wsgi_app`` (a WSGI middleware, so it covers every route and
blueprint whenever they are registered, and requests Flask refuses before any view); it adds a
``teardown_request`` hook only to read ``g`` and a ``before_request`` hook only while some
endpoint is at level 2 or 3. A request's duration ends when its response is complete; for a
streamed response, when the WSGI server closes it after the last chunk. Per request, the hot
path takes two clock readings, reads a few attributes, and appends one tuple to the Recorder's
queue; the event (client IP from proxy headers, user-agent family, fields) is built later in
the dispatcher.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Request, Response, g, got_request_exception, request
from mypy_extensions import mypyc_attr

from lookout import settings_table
from lookout._internal import optional_dependency
from lookout.coerce import coerce
from lookout.config import SETTING_NAMES
from lookout.events import HOSTNAME, OK, Event, bound_name, describe_error
from lookout.flask.context import STATE_KEY, RequestState
from lookout.flask.ids import is_valid_request_id, new_request_id
from lookout.flask.levels import OUTLIER_RULES, EndpointLevels, check_level
from lookout.flask.request_events import (
    RequestNaming,
    new_event,
    outcome_of,
    portable_request,
    request_fields,
)
from lookout.flask.sampler import StackSampler, WatchedRequest, rss_bytes

if TYPE_CHECKING:
    from lookout.core import Lookout
    from lookout.recorder import BuildContext

logger = logging.getLogger("lookout.flask")
F = TypeVar("F", bound=Callable[..., Any])
_perf_ns = time.perf_counter_ns

TRACK_ATTRIBUTE = "__lookout_track_g__"

#: Extension options: name -> default (the flask and dashboard rows of the settings table).
#: Each may also be set as ``app.config["LOOKOUT_<NAME>"]``.
DEFAULTS: dict[str, Any] = {
    setting.name: setting.default
    for setting in settings_table.group(settings_table.FLASK)
    + settings_table.group(settings_table.DASHBOARD)
}

TrackG = None | str | Sequence[str] | Mapping[str, Sequence[str]]


def _normalise_track_g(value: TrackG, where: str) -> dict[str, tuple[str, ...]] | str | None:
    """``None``, ``"all"``, a list of names (every method) or a dict method -> names."""
    if value is None or value == "all":
        return value
    if isinstance(value, str):
        raise ValueError(f"{where}: expected 'all', a list of g names or a dict per method")
    if isinstance(value, Mapping):
        return {str(method).upper(): tuple(names) for method, names in value.items()}
    return {"*": tuple(value)}


class _Config:
    """The options of one app, resolved and validated once at ``init_app``."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.track_g = _normalise_track_g(options["track_g"], "track_g")
        self.group_by: Callable[[], Any] | None = options["group_by"]
        self.request_id_header: str = options["request_id_header"]
        self.request_id_generator: Callable[[], str] = (
            options["request_id_generator"] or new_request_id
        )
        proxies = options["trusted_proxies"]
        if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
            raise ValueError(f"trusted_proxies: expected a whole number >= 0; got {proxies!r}")
        self.trusted_proxies: int = proxies
        self.raise_exceptions = bool(options["raise_exceptions"])
        self.exclude_endpoints = frozenset(options["exclude_endpoints"] or ())
        self.record_user_agent = bool(options["record_user_agent"])
        self.default_level = check_level(options["default_level"])
        self.outlier_constant = float(options["outlier_constant"])
        self.outlier_rule: str = options["outlier_rule"]
        if self.outlier_rule not in OUTLIER_RULES:
            raise ValueError(
                f"outlier_rule: expected 'stdev' or 'average'; got {self.outlier_rule!r}"
            )
        self.outlier_warmup = int(options["outlier_warmup"])
        self.sampler_interval = float(options["sampler_interval"])
        self.level_refresh_interval = float(options["level_refresh_interval"])
        if self.sampler_interval <= 0 or self.level_refresh_interval <= 0:
            raise ValueError("sampler_interval and level_refresh_interval must be above 0")
        for name in ("group_by", "request_id_generator"):
            if options[name] is not None and not callable(options[name]):
                raise ValueError(f"{name}: expected a callable; got {options[name]!r}")


class _Counting:
    """Wraps a streamed body: counts its bytes, and ends the request when the server closes it."""

    def __init__(
        self, body: Iterable[bytes], state: RequestState, on_close: Callable[[], None]
    ) -> None:
        self._body = body
        self._state = state
        self._on_close = on_close
        state.size = 0

    def __iter__(self) -> Iterator[bytes]:
        state = self._state
        for chunk in self._body:
            state.size = (state.size or 0) + len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()  # Flask pops a streamed request's context here, after teardown hooks
        finally:
            self._on_close()


#: Statuses that never have a body, so no Content-Length does not mean a streamed response.
_EMPTY_STATUSES = ("1", "204", "304")


#: The fields every request event has, and the most JSON they can take: path and rule are
#: bounded to 1,024 characters (six bytes each when escaped), the rest are short.
REQUEST_FIELD_NAMES = ("method", "path", "rule", "response_bytes", "user_agent")
REQUEST_FIELDS_MAX_BYTES = 16 * 1024


class RequestSource:
    """Builds request events from the tuples the middleware captures.

    It sanitizes its own events (see :class:`~lookout.recorder.CaptureSource`): its fields have
    fixed, bounded values under fixed names, so only tracked ``g`` values, outlier details and
    profiles, or settings that redact one of those names or allow less than
    ``REQUEST_FIELDS_MAX_BYTES``, need the dispatcher's full pass. Such plain requests can also
    be built by the store's writer process (:meth:`portable`).
    """

    sanitizes_own_events = True

    def __init__(self, config: _Config) -> None:
        self.config = config
        self.naming = RequestNaming()

    def _own_fields_safe(self, context: BuildContext) -> bool:
        """Whether the settings of this drain leave the fixed request fields as they are."""
        safe: bool | None = context.memo.get(RequestSource)
        if safe is None:
            safe = context.memo[RequestSource] = (
                context.limits.max_event_bytes >= REQUEST_FIELDS_MAX_BYTES
                and not any(context.is_secret(name) for name in REQUEST_FIELD_NAMES)
            )
        return safe

    def portable(self, item: tuple[Any, ...], context: BuildContext) -> tuple[Any, ...] | None:
        """The request as plain data (see :mod:`lookout.flask.request_events`), or None when
        its event needs this process: g values or outlier details, an error, or settings that
        redact or shorten the fixed fields."""
        if item[14] or item[15] is not None:
            return None
        safe = context.memo.get(RequestSource)  # _own_fields_safe, inlined: once per request
        if safe is None:
            safe = self._own_fields_safe(context)
        if not safe:
            return None
        return portable_request(
            item,
            context.clock_offset_ns,
            context.pid,
            context.app_version,
            self.config.trusted_proxies,
        )

    def build_event(self, item: tuple[Any, ...], context: BuildContext) -> Event:
        (
            _,
            start_ns,
            duration_ns,
            endpoint,
            status,
            rid,
            group,
            ip,
            _,
            _,
            method,
            path,
            rule,
            size,
            agent,
        ) = portable_request(
            item,
            context.clock_offset_ns,
            context.pid,
            context.app_version,
            self.config.trusted_proxies,
        )
        extra_fields, error, tb = item[14:17]
        fields: dict[str, Any] = request_fields(method, path, rule, size, agent)
        naming = self.naming
        tags: Mapping[str, str] = naming.tags_for(method)
        own_fields_safe = self._own_fields_safe(context)
        if extra_fields:
            fields.update(extra_fields)
            fields = dict(context.sanitize(fields))
        elif not own_fields_safe:
            fields = dict(context.sanitize(fields))
        if not own_fields_safe:
            tags = context.sanitize(tags)
        error_type = message = tb_text = None
        if error is not None:
            error_type, message, tb_text = describe_error(error, context.limits, tb)
        return new_event(
            (
                "request",
                naming.name_for(endpoint),
                start_ns,
                duration_ns,
                outcome_of(status, error is not None),
                status,
                HOSTNAME,
                context.pid,
                context.app_version,
                rid,
                group,
                ip,
                tags,
                fields,
                error_type,
                message,
                tb_text,
            )
        )


class MetricSource:
    """Builds ``metric`` events from ``add_metric`` calls."""

    def build_event(self, item: tuple[Any, ...], context: BuildContext) -> Event:
        _, t1, name, value, unit, dimensions, rid, endpoint = item
        fields = {"value": value, "unit": unit}
        if endpoint is not None:
            fields["endpoint"] = endpoint
        return Event(
            "metric",
            bound_name(name),
            t1 + context.clock_offset_ns,
            0,
            OK,
            None,
            HOSTNAME,
            context.pid,
            context.app_version,
            rid,
            None,
            None,
            dimensions,
            fields,
        )


_METRICS = MetricSource()


class _AppHooks:
    """The request hooks of one app (one LookoutFlask may serve several apps)."""

    def __init__(self, lookout: Lookout, config: _Config, app: Flask) -> None:
        self.lookout = lookout
        self.config = config
        self.recorder = lookout.recorder
        self.source = RequestSource(config)
        self.app = app
        self._tracked_by_endpoint: dict[tuple[str | None, str], tuple[str, ...] | str | None] = {}
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
        #: the WSGI environ key of the request id header, read without building Headers
        self._request_id_environ_key = "HTTP_" + config.request_id_header.upper().replace("-", "_")
        self._levels_started = False
        self._hook_lock = threading.Lock()
        #: some endpoint is at level 2 or 3: requests must be looked at as they start
        self.watching = config.default_level >= 2
        #: the app's WSGI callable, which Lookout's middleware (this object) wraps
        self.wsgi_app: Callable[..., Any] = app.wsgi_app
        #: the built-in generator needs none of the checks a user's callable gets
        self._new_request_id: Callable[[], str] = (
            new_request_id
            if config.request_id_generator is new_request_id
            else self._generate_request_id
        )
        self._header = (config.request_id_header, config.request_id_header.lower())

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
        if state.content_length is None and not state.status.startswith(_EMPTY_STATUSES):
            # The work goes on while the body streams: time it until the server closes it.
            return _Counting(body, state, lambda: self._finish(environ, state))
        state.size = state.content_length
        self._finish(environ, state)
        return body

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

    def capture_context(self, error: BaseException | None) -> None:
        """``teardown_request`` hook, there when g variables or groups are recorded: reads
        them while the request's context still exists (on success and on error alike)."""
        state: RequestState | None = request.environ.get(STATE_KEY)
        if state is None:
            return
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.endpoint in self.config.exclude_endpoints:
            return
        try:
            state.extra = self._extra_fields(req)
            group = self._group()
            if isinstance(group, tuple):
                state.extra = {**(state.extra or {}), "group.error": group[1]}
                group = None
            state.group = group
        except Exception:
            if self.config.raise_exceptions:
                raise
            logger.exception("lookout: reading g for a request failed (the response is unchanged)")

    def ensure_context_hook(self) -> None:
        with self._hook_lock:
            funcs = self.app.teardown_request_funcs.setdefault(None, [])
            if self.capture_context not in funcs:
                funcs.append(self.capture_context)

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
                extra = self._sampled_fields(state, req, t1 - state.t0, extra)
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
                        (_METRICS, t1, name, value, unit, dimensions, state.request_id, endpoint)
                    )
        except Exception:
            if self.config.raise_exceptions:
                raise
            logger.exception("lookout: recording a request failed (the response is unchanged)")

    def _sampled_fields(
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

    def _group(self) -> Any:
        """The group_by result; ``("error", message)`` when the callable raised."""
        group_by = self.config.group_by
        if group_by is None:
            return None
        try:
            return group_by()
        except Exception as exc:
            if self.config.raise_exceptions:
                raise
            return ("error", f"{type(exc).__name__}: {exc}"[:500])

    def _extra_fields(self, req: Request) -> dict[str, Any] | None:
        names = self._tracked_names(req)
        if names is None:
            return None
        values = vars(g._get_current_object())
        if names == "all":
            chosen = {k: v for k, v in values.items() if not k.startswith("_")}
        else:
            chosen = {name: values[name] for name in names if name in values}
        if not chosen:
            return None
        limits = self.lookout.limits
        return {"g": {name: coerce(value, limits) for name, value in chosen.items()}}

    def _tracked_names(self, req: Request) -> tuple[str, ...] | str | None:
        """The g names to record for this endpoint and method (cached per pair)."""
        key = (req.endpoint, req.method)
        try:
            return self._tracked_by_endpoint[key]
        except KeyError:
            pass
        view = self.app.view_functions.get(req.endpoint or "")
        track = getattr(view, TRACK_ATTRIBUTE, None) if view is not None else None
        setting = track if track is not None else self.config.track_g
        if setting is None or setting == "all":
            names: tuple[str, ...] | str | None = setting
        else:
            assert isinstance(setting, dict)
            names = setting.get(req.method, setting.get("*"))
        self._tracked_by_endpoint[key] = names
        return names


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled (docs/native.md), still subclassable
class LookoutFlask:
    """Record every request of a Flask app (or several apps).

    Args:
        app: the app; or call :meth:`init_app` later (application factory).
        lookout: the Lookout instance to record into; by default one is made from the app's
            ``LOOKOUT_*`` config keys (``LOOKOUT_STORE``, ``LOOKOUT_APP_VERSION``...) and the
            environment.
        track_g: ``g`` variables to record: a list of names, a dict per HTTP method
            (``{"GET": ["user_id"], "POST": ["user_id", "cart"]}``), or ``"all"``.
        group_by: a callable returning who the request is for (e.g. the user id).
        request_id_header: the header read and echoed (default ``X-Request-ID``).
        request_id_generator: makes ids when the header is missing or unsafe (uuid4 hex).
        trusted_proxies: how many proxies in front of the app append to ``X-Forwarded-For``.
        raise_exceptions: let errors in ``group_by`` and the id generator propagate (debugging).
        exclude_endpoints: endpoints never recorded (default: Flask's ``static``).
        record_user_agent: record the user-agent family (``Chrome``, ``curl``...).
        dashboard_url: where the dashboard is mounted (default ``/dashboard``; None: not).
        dashboard_admin_password: the dashboard's ``admin`` password (default: generated at
            first start, stored hashed, logged once).
        dashboard_guest_passwords: passwords of the read-only ``guest`` login.
        dashboard_auth: False turns the dashboard's login off (local development only).
        dashboard_admin_user: the admin's login name (default ``admin``).
        dashboard_guest_user: the read-only login name (default ``guest``).
        dashboard_colors: ``{"primary": ..., "error": ..., "ok": ...}`` CSS colours, and an
            endpoint's name for the colour of its charts.
        dashboard_secure_cookies: always mark the dashboard's cookies Secure (else only over
            HTTPS, seen directly or, behind ``trusted_proxies``, by ``X-Forwarded-Proto``).
        dashboard_max_body_bytes: the largest request body the dashboard accepts (default
            1 MiB; larger is a 413).

    Every option can also be set as ``app.config["LOOKOUT_<OPTION>"]``; arguments win.
    """

    def __init__(
        self,
        app: Flask | None = None,
        lookout: Lookout | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            import difflib

            name = sorted(unknown)[0]
            close = difflib.get_close_matches(name, list(DEFAULTS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"LookoutFlask: unknown option {name!r}{hint}")
        self._options = options
        self._lookout = lookout
        self._hooks: list[_AppHooks] = []
        self._per_route_tracking = False
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Hook into ``app``; settings come from arguments, then ``app.config``, then defaults."""
        if "lookout" in app.extensions:
            raise RuntimeError(f"LookoutFlask is already registered on app {app.name!r}")
        resolved = {
            name: self._options.get(name, app.config.get(f"LOOKOUT_{name.upper()}", default))
            for name, default in DEFAULTS.items()
        }
        config = _Config(resolved)
        lookout = self._lookout or self._lookout_from_config(app)
        hooks = _AppHooks(lookout, config, app)
        app.extensions["lookout"] = hooks
        lookout.on_close(hooks.levels.stop)
        lookout.on_close(hooks.sampler.stop)
        # A WSGI middleware rather than before/after_request hooks: it costs a third as much
        # per request, sees requests Flask fails before any hook, and times streamed bodies.
        app.wsgi_app = hooks  # type: ignore[method-assign]
        if config.track_g is not None or config.group_by is not None or self._per_route_tracking:
            hooks.ensure_context_hook()
        if hooks.watching:
            hooks.levels_changed()
        hooks.levels.on_change = hooks.levels_changed
        self._hooks.append(hooks)
        got_request_exception.connect(hooks.on_exception, app, weak=False)
        if resolved["metrics_url"]:
            _mount_metrics(
                app, resolved["metrics_url"], resolved["metrics_registry"], config, lookout
            )
        if resolved["dashboard_url"]:
            _mount_dashboard(app, resolved, config, lookout)

    @staticmethod
    def _lookout_from_config(app: Flask) -> Lookout:
        from lookout.core import Lookout

        options = {
            name: app.config[f"LOOKOUT_{name.upper()}"]
            for name in SETTING_NAMES
            if f"LOOKOUT_{name.upper()}" in app.config
        }
        return Lookout(**options)

    @staticmethod
    def set_level(endpoint: str, level: int, app: Flask | None = None) -> None:
        """Set an endpoint's monitoring level: 0 off, 1 requests, 2 outlier details,
        3 profiling. Persisted in the store, so every process of the app follows within
        ``level_refresh_interval`` seconds. ``app`` defaults to the current app."""
        from flask import current_app

        target = app if app is not None else current_app
        hooks: _AppHooks = target.extensions["lookout"]
        hooks.set_level(endpoint, level)

    def track(
        self, g_vars: Sequence[str] | str, methods: Sequence[str] | None = None
    ) -> Callable[[F], F]:
        """Per-route ``g`` tracking, overriding ``track_g`` for that view::

        @app.post("/cart")
        @lookout_flask.track(g_vars=["cart_id", "user_id"], methods=["POST"])
        def cart(): ...
        """
        if isinstance(g_vars, str) and g_vars != "all":
            g_vars = [g_vars]
        names: tuple[str, ...] | str = g_vars if g_vars == "all" else tuple(g_vars)

        self._per_route_tracking = True
        for hooks in self._hooks:  # apps set up before the decorator ran
            hooks.ensure_context_hook()

        def decorate(view: F) -> F:
            if names == "all":
                setattr(view, TRACK_ATTRIBUTE, "all")
            else:
                per_method = {m.upper(): names for m in methods} if methods else {"*": names}
                setattr(view, TRACK_ATTRIBUTE, per_method)
            return view

        return decorate


def _mount_dashboard(
    app: Flask, resolved: dict[str, Any], config: _Config, lookout: Lookout
) -> None:
    """Serve the dashboard (not itself recorded) over this Lookout's store."""
    from lookout.dashboard import BLUEPRINT_NAME, DashboardOptions, create_blueprint

    options = DashboardOptions(
        admin_user=resolved["dashboard_admin_user"],
        admin_password=resolved["dashboard_admin_password"],
        guest_user=resolved["dashboard_guest_user"],
        guest_passwords=tuple(resolved["dashboard_guest_passwords"] or ()),
        auth=bool(resolved["dashboard_auth"]),
        colors=dict(resolved["dashboard_colors"] or {}),
        secure_cookies=bool(resolved["dashboard_secure_cookies"]),
        trusted_proxies=config.trusted_proxies,
        max_body_bytes=int(resolved["dashboard_max_body_bytes"]),
        stats=lookout.stats,
        apdex_threshold_ms=lookout.settings.apdex_threshold * 1000,
        apdex_thresholds_ms={k: v * 1000 for k, v in lookout.settings.apdex_thresholds},
        alerts=lambda: None if lookout.alerts is None else lookout.alerts.describe(),
    )
    app.register_blueprint(
        create_blueprint(lambda: lookout.store, options),
        url_prefix=resolved["dashboard_url"].rstrip("/"),
    )
    config.exclude_endpoints = config.exclude_endpoints | {
        endpoint for endpoint in app.view_functions if endpoint.startswith(BLUEPRINT_NAME + ".")
    }


METRICS_ENDPOINT = "lookout_metrics"


def _mount_metrics(app: Flask, url: str, registry: Any, config: _Config, lookout: Lookout) -> None:
    """Serve Prometheus metrics at ``url`` (not itself recorded).

    With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn), the metrics of every worker are merged;
    Lookout's own health counters cannot be (they live in each worker's memory), so the
    answering worker adds its own, labelled with its pid.
    """
    import os

    with optional_dependency("prometheus", "metrics_url"):
        from prometheus_client import (
            CONTENT_TYPE_LATEST,
            REGISTRY,
            CollectorRegistry,
            generate_latest,
        )
        from prometheus_client.multiprocess import MultiProcessCollector

        from lookout.sinks.prometheus import HealthCollector

    def metrics() -> Response:
        source = registry if registry is not None else REGISTRY
        if registry is None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            source = CollectorRegistry()
            MultiProcessCollector(source)  # type: ignore[no-untyped-call]
            source.register(HealthCollector(lookout, {"pid": str(os.getpid())}))
        return Response(generate_latest(source), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule(url, METRICS_ENDPOINT, metrics)
    config.exclude_endpoints = config.exclude_endpoints | {METRICS_ENDPOINT}
