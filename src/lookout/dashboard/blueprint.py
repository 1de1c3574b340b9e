"""The dashboard as a Flask blueprint: pages, the JSON API, login, and their safety headers.

Pages are thin HTML shells; their data comes from the JSON API (``/api/...``) and is rendered
by ``static/dashboard.js`` with ``textContent`` only, so attacker-controlled strings (endpoint
names, tracked values, user ids) can never become markup. Templates are auto-escaped too.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.exceptions import HTTPException

from lookout.dashboard import data
from lookout.dashboard.auth import (
    ADMIN,
    GUEST,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    Authenticator,
    User,
)
from lookout.dashboard.openapi import openapi_document
from lookout.store.engine import SqlStore
from lookout.store.settings import read_settings, write_setting

BLUEPRINT_NAME = "lookout_dashboard"
LOGIN_COOKIE = "lookout_login_csrf"
RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
KINDS = ("request", "call", "run", "metric")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
LEVEL_PREFIX = "flask.level:"
ENDPOINTS_PREFIX = "flask.endpoints:"
DEFAULT_COLORS = {"primary": "#2563eb", "error": "#dc2626", "ok": "#16a34a"}


@dataclasses.dataclass
class DashboardOptions:
    """How the dashboard looks and who may use it (see docs/dashboard.md)."""

    admin_user: str = "admin"
    admin_password: str | None = None
    guest_user: str = "guest"
    guest_passwords: tuple[str, ...] = ()
    #: False turns login off (everyone is admin): local development only.
    auth: bool = True
    title: str = "Lookout"
    colors: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: The serving process's Lookout, for the System page's counters (None: none shown).
    stats: Callable[[], dict[str, Any]] | None = None
    #: The serving process's alert rules and their state, for the System page.
    alerts: Callable[[], dict[str, Any] | None] | None = None


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _params(allowed: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Query parameters checked: unknown names and bad values are a 400 with a message."""
    unknown = [name for name in request.args if name not in allowed]
    if unknown:
        raise ApiError(400, f"unknown parameter {unknown[0]!r}; allowed: {', '.join(allowed)}")
    values = {}
    for name, parse in allowed.items():
        raw = request.args.get(name)
        if raw is None:
            continue
        try:
            values[name] = parse(raw)
        except (ValueError, KeyError):
            raise ApiError(400, f"parameter {name!r}: invalid value {raw[:50]!r}") from None
    return values


def _range(value: str) -> int:
    if value not in RANGES:
        raise ValueError(value)
    return RANGES[value]


def _kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(value)
    return value


def create_blueprint(
    store: Callable[[], SqlStore | None], options: DashboardOptions | None = None
) -> Blueprint:
    """The dashboard over ``store()`` (called per request: the store may open late)."""
    options = options or DashboardOptions()
    colors = {**DEFAULT_COLORS, **options.colors}
    blueprint = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    state: dict[str, Authenticator] = {}

    def the_store() -> SqlStore:
        found = store()
        if found is None:
            abort(503, "this Lookout has no store to show")
        return found

    def authenticator() -> Authenticator:
        if "auth" not in state:
            state["auth"] = Authenticator(
                the_store(),
                admin_user=options.admin_user,
                admin_password=options.admin_password,
                guest_user=options.guest_user,
                guest_passwords=options.guest_passwords,
                enabled=options.auth,
            )
        return state["auth"]

    # -- every request: who is it, and may they ----------------------------------------------
    @blueprint.before_request
    def identify() -> Any:
        if request.endpoint in (f"{BLUEPRINT_NAME}.static", f"{BLUEPRINT_NAME}.plotly"):
            return None
        auth = authenticator()
        user: User | None
        if not options.auth:
            user = User("local", ADMIN, csrf="")
        else:
            user = auth.user_from_token(request.headers.get("Authorization"))
            user = user or auth.user_from_cookie(request.cookies.get(SESSION_COOKIE))
        g.lookout_user = user
        public = request.endpoint in (f"{BLUEPRINT_NAME}.login",)
        if user is None and not public:
            if request.path.startswith(url_for(f"{BLUEPRINT_NAME}.overview") + "api/"):
                return _json_error(401, "log in or send 'Authorization: Bearer <token>'")
            return redirect(url_for(f"{BLUEPRINT_NAME}.login", next=request.full_path))
        changing = request.method not in ("GET", "HEAD", "OPTIONS")
        if changing and user is not None and options.auth and not user.via_token and not public:
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not sent or not hmac.compare_digest(sent, user.csrf):
                return _json_error(403, "missing or wrong CSRF token")
        return None

    @blueprint.after_request
    def secure(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @blueprint.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return _json_error(error.status, error.message)

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if "/api/" in request.path:
            return _json_error(error.code or 500, error.description or error.name)
        return make_response(error.get_response())

    def admin_only() -> None:
        user: User | None = g.get("lookout_user")
        if user is None or not user.is_admin:
            raise ApiError(403, "only an admin may do this")

    def page(template: str, **context: Any) -> str:
        user: User = g.lookout_user
        return render_template(
            f"lookout/{template}",
            user=user,
            csrf=user.csrf,
            title=options.title,
            colors=colors,
            auth_enabled=options.auth,
            **context,
        )

    # -- login ---------------------------------------------------------------------------------
    @blueprint.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        message, status = None, 200
        # Login CSRF: the form's token must match a cookie set with the form (double submit),
        # so another site cannot log a visitor into an account of its choosing.
        sent_token = request.cookies.get(LOGIN_COOKIE) or ""
        if request.method == "POST" and not (
            sent_token and hmac.compare_digest(request.form.get("csrf_token", ""), sent_token)
        ):
            message, status = "The login form expired; please try again.", 403
        elif request.method == "POST":
            auth = authenticator()
            user = request.form.get("username", "")[:100]
            password = request.form.get("password", "")[:1000]
            keys = (f"ip:{request.remote_addr}", f"user:{user}")
            wait = auth.limiter.retry_after(*keys)
            if wait > 0:
                message = f"Too many failed logins; try again in {int(wait) + 1} s."
                status = 429
            else:
                role = auth.check_password(user, password)
                if role is not None:
                    target = request.args.get("next", "")
                    if not target.startswith(url_for(f"{BLUEPRINT_NAME}.overview")):
                        target = url_for(f"{BLUEPRINT_NAME}.overview")  # no open redirects
                    response = redirect(target)
                    response.set_cookie(
                        SESSION_COOKIE,
                        auth.session_cookie(user, role),
                        max_age=SESSION_MAX_AGE_S,
                        httponly=True,
                        samesite="Lax",
                        secure=request.is_secure,
                        path=url_for(f"{BLUEPRINT_NAME}.overview"),
                    )
                    return response
                auth.limiter.failed(*keys)
                message, status = "Wrong user name or password.", 401
        form_token = secrets.token_urlsafe(24)
        html = render_template(
            "lookout/login.html",
            title=options.title,
            message=message,
            colors=colors,
            csrf=form_token,
        )
        response = make_response(html, status)
        response.set_cookie(
            LOGIN_COOKIE,
            form_token,
            max_age=3600,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
            path=url_for(f"{BLUEPRINT_NAME}.overview"),
        )
        return response

    @blueprint.post("/logout")
    def logout() -> Any:
        response = redirect(url_for(f"{BLUEPRINT_NAME}.login"))
        response.delete_cookie(SESSION_COOKIE, path=url_for(f"{BLUEPRINT_NAME}.overview"))
        return response

    # -- pages ---------------------------------------------------------------------------------
    @blueprint.get("/")
    def overview() -> str:
        return page("overview.html", page_name="overview")

    @blueprint.get("/detail/<kind>/<path:name>")
    def detail(kind: str, name: str) -> str:
        if kind not in KINDS:
            abort(404)
        return page("detail.html", page_name="detail", kind=kind, name=name)

    @blueprint.get("/jobs")
    def jobs_page() -> str:
        return page("jobs.html", page_name="jobs")

    @blueprint.get("/tests")
    def tests_page() -> str:
        return page("tests.html", page_name="tests")

    @blueprint.get("/api/tests")
    def api_tests() -> Response:
        args = _params({"range": _range})
        return jsonify(
            {"rows": data.suite_tests(the_store(), since_s=args.get("range", 30 * 86400))}
        )

    @blueprint.get("/metrics")
    def metrics_page() -> str:
        return page("metrics.html", page_name="metrics")

    @blueprint.get("/system")
    def system_page() -> str:
        return page("system.html", page_name="system")

    @blueprint.get("/vendor/plotly.min.js")
    def plotly() -> Response:
        """plotly.js from the installed ``plotly`` package: no CDN, works offline."""
        try:
            path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
        except ModuleNotFoundError:
            abort(404, "charts need plotly: pip install 'lookout[flask]'")
        response = send_file(path, mimetype="text/javascript", max_age=7 * 86400)
        response.headers["Cache-Control"] = "public, max-age=604800"
        return response

    # -- JSON API ------------------------------------------------------------------------------
    @blueprint.get("/api/openapi.json")
    def openapi() -> Response:
        return jsonify(openapi_document(url_for(f"{BLUEPRINT_NAME}.overview").rstrip("/")))

    @blueprint.get("/api/me")
    def me() -> Response:
        _params({})
        user: User = g.lookout_user
        return jsonify({"user": user.name, "role": user.role, "csrf": user.csrf})

    @blueprint.get("/api/overview")
    def api_overview() -> Response:
        args = _params({"kind": _kind, "window": _range})
        kinds = (args["kind"],) if "kind" in args else ("request", "call")
        rows = data.overview(the_store(), kinds=kinds, window_s=args.get("window", 86400))
        levels = _levels(the_store())
        for row in rows:
            if row["kind"] == "request":
                row["levels"] = [
                    {"app": app, "level": found["levels"].get(row["name"], found["default"])}
                    for app, found in levels.items()
                    if row["name"] in found["endpoints"]
                ]
        return jsonify({"rows": rows, "generated_ns": time.time_ns()})

    def name_api(
        path: str, compute: Callable[..., Any], params: Mapping[str, Callable[[str], Any]]
    ) -> None:
        def view(kind: str, name: str) -> Response:
            if kind not in KINDS:
                raise ApiError(404, f"kind must be one of {', '.join(KINDS)}")
            args = _params(params)
            return jsonify(compute(the_store(), kind, name, **args))

        blueprint.add_url_rule(
            f"/api/names/<kind>/<path:name>/{path}", f"api_{path}", view, methods=["GET"]
        )

    name_api(
        "timeseries",
        lambda s, k, n, range=86400: data.timeseries(s, k, n, range_s=range),
        {"range": _range},
    )
    name_api("heatmap", lambda s, k, n, days=28: data.heatmap(s, k, n, days=days), {"days": _days})
    name_api(
        "versions",
        lambda s, k, n, range=7 * 86400: data.by_version(s, k, n, since_s=range),
        {"range": _range},
    )
    name_api(
        "groups",
        lambda s, k, n, range=7 * 86400: data.by_group(s, k, n, since_s=range),
        {"range": _range},
    )
    name_api(
        "statuses",
        lambda s, k, n, range=86400: data.statuses_and_clients(s, k, n, since_s=range),
        {"range": _range},
    )
    name_api(
        "outliers",
        lambda s, k, n, range=7 * 86400: data.outliers(s, k, n, since_s=range),
        {"range": _range},
    )
    name_api(
        "profile", lambda s, k, n, range=86400: data.profile(s, n, since_s=range), {"range": _range}
    )
    name_api(
        "tracked",
        lambda s, k, n, range=86400: data.tracked(s, k, n, since_s=range),
        {"range": _range},
    )

    @blueprint.get("/api/jobs")
    def api_jobs() -> Response:
        args = _params({"range": _range})
        return jsonify({"rows": data.jobs(the_store(), since_s=args.get("range", 30 * 86400))})

    @blueprint.get("/api/metrics")
    def api_metrics() -> Response:
        args = _params({"range": _range})
        return jsonify({"metrics": data.metrics(the_store(), range_s=args.get("range", 7 * 86400))})

    @blueprint.get("/api/system")
    def api_system() -> Response:
        _params({})
        from lookout import __version__

        return jsonify(
            {
                "version": __version__,
                "store": data.store_size(the_store()),
                "recorder": options.stats() if options.stats else None,
                "alerts": options.alerts() if options.alerts else None,
            }
        )

    @blueprint.get("/api/levels")
    def api_levels() -> Response:
        _params({})
        return jsonify({"apps": _levels(the_store())})

    @blueprint.post("/api/levels")
    def api_set_level() -> Response:
        admin_only()
        body = _json_body({"app": str, "endpoint": str, "level": int})
        if body["level"] not in (0, 1, 2, 3):
            raise ApiError(400, "level must be 0, 1, 2 or 3")
        apps = _levels(the_store())
        if body["app"] not in apps or body["endpoint"] not in apps[body["app"]]["endpoints"]:
            raise ApiError(404, "no such app and endpoint")
        extension = current_app.extensions.get("lookout")
        if extension is not None and getattr(extension.app, "name", None) == body["app"]:
            # this process follows at once (and installs the level 2-3 hook if needed)
            extension.levels.set_level(body["endpoint"], body["level"])
        else:  # another app sharing the store: it reads the change at its next refresh
            write_setting(
                the_store(), f"{LEVEL_PREFIX}{body['app']}:{body['endpoint']}", str(body["level"])
            )
        return jsonify({"ok": True, **body})

    @blueprint.get("/api/tokens")
    def api_tokens() -> Response:
        admin_only()
        _params({})
        return jsonify({"tokens": authenticator().tokens()})

    @blueprint.post("/api/tokens")
    def api_create_token() -> Response:
        admin_only()
        body = _json_body({"name": str, "role": str})
        if body["role"] not in (ADMIN, GUEST):
            raise ApiError(400, "role must be 'admin' or 'guest'")
        token_id, token = authenticator().create_token(body["name"], body["role"])
        return jsonify({"id": token_id, "token": token, "note": "shown once; store it now"})

    @blueprint.delete("/api/tokens/<token_id>")
    def api_revoke_token(token_id: str) -> Response:
        admin_only()
        if not authenticator().revoke_token(token_id):
            raise ApiError(404, "no such token")
        return jsonify({"ok": True})

    @blueprint.delete("/api/names/<kind>/<path:name>")
    def api_delete(kind: str, name: str) -> Response:
        """Delete every event and rollup of one name (an admin cleaning up)."""
        admin_only()
        if kind not in KINDS:
            raise ApiError(404, "no such kind")
        deleted = _delete_name(the_store(), kind, name)
        return jsonify({"ok": True, "deleted_events": deleted})

    return blueprint


def _days(value: str) -> int:
    days = int(value)
    if not 1 <= days <= 366:
        raise ValueError(value)
    return days


def _json_body(fields: Mapping[str, type]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    unknown = [key for key in body if key not in fields]
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; expected {', '.join(fields)}")
    for key, kind in fields.items():
        value = body.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ApiError(400, f"field {key!r} must be a {kind.__name__}")
    return body


def _json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    return response


def _levels(store: SqlStore) -> dict[str, dict[str, Any]]:
    """Per Flask app using this store: its endpoints, default level and levels set."""
    apps: dict[str, dict[str, Any]] = {}
    for app, text in read_settings(store, ENDPOINTS_PREFIX).items():
        registry = json.loads(text)
        apps[app] = {
            "endpoints": list(registry.get("endpoints", [])),
            "default": int(registry.get("default_level", 1)),
            "levels": {},
        }
    for key, value in read_settings(store, LEVEL_PREFIX).items():
        app, _, endpoint = key.partition(":")
        if app in apps and value.isdigit():
            apps[app]["levels"][endpoint] = int(value)
    return apps


def _delete_name(store: SqlStore, kind: str, name: str) -> int:
    import sqlalchemy as sa

    from lookout.store import schema

    ident = data.name_id(store, kind, name)
    if ident is None:
        return 0
    with store.engine.begin() as connection:
        deleted = connection.execute(
            sa.delete(schema.events).where(schema.events.c.name_id == ident)
        ).rowcount
        for table in (schema.rollups_minute, schema.rollups_hour):
            connection.execute(sa.delete(table).where(table.c.name_id == ident))
    return int(deleted or 0)
