"""``LookoutFlask``: records every request of a Flask app as a ``request`` event.

The extension wraps ``app.wsgi_app`` (a WSGI middleware, so it covers every route and
blueprint whenever they are registered, and requests Flask refuses before any view); it adds a
``teardown_request`` hook only to read ``g`` and a ``before_request`` hook only while some
endpoint is at level 2 or 3. A request's duration ends when its response is complete; for a
streamed response, when the WSGI server closes it after the last chunk. Per request, the hot
path takes two clock readings, reads a few attributes, and appends one tuple to the Recorder's
queue; the event (client IP from proxy headers, user-agent family, fields) is built later in
the dispatcher.

The parts live in modules of their own: the options (:mod:`lookout.flask.options`), the
middleware (:mod:`~lookout.flask.middleware`), streamed bodies (:mod:`~lookout.flask.streaming`),
``g`` tracking (:mod:`~lookout.flask.tracking`), levels at work (:mod:`~lookout.flask.watching`),
the events built from what the middleware queued (:mod:`~lookout.flask.sources`), and the
dashboard and metrics it serves (:mod:`~lookout.flask.mounts`). This module ties them to an app.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, got_request_exception
from mypy_extensions import mypyc_attr

from lookout.config import SETTING_NAMES
from lookout.flask.middleware import AppHooks
from lookout.flask.mounts import mount_dashboard, mount_metrics
from lookout.flask.options import DEFAULTS, TRACK_ATTRIBUTE, AppConfig
from lookout.flask.sources import REQUEST_FIELD_NAMES, MetricSource, RequestSource

if TYPE_CHECKING:
    from lookout.core import Lookout

__all__ = [
    "DEFAULTS",
    "REQUEST_FIELD_NAMES",
    "TRACK_ATTRIBUTE",
    "LookoutFlask",
    "MetricSource",
    "RequestSource",
]
F = TypeVar("F", bound=Callable[..., Any])


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
        self._hooks: list[AppHooks] = []
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
        config = AppConfig(resolved)
        lookout = self._lookout or self._lookout_from_config(app)
        hooks = AppHooks(lookout, config, app)
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
            mount_metrics(
                app, resolved["metrics_url"], resolved["metrics_registry"], config, lookout
            )
        if resolved["dashboard_url"]:
            mount_dashboard(app, resolved, config, lookout)

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
        hooks: AppHooks = target.extensions["lookout"]
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
