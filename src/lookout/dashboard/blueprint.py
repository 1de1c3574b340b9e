"""The dashboard as a Flask blueprint: who may see it, its safety headers, and its views.

Pages are thin HTML shells; their data comes from the JSON API (``/api/...``) and is rendered
by ``static/*.js`` with ``textContent`` only, so attacker-controlled strings (endpoint
names, tracked values, user ids) can never become markup. Templates are auto-escaped too.

This module only composes: each view module registers its own routes, and reaches the
dashboard's store and options through :func:`lookout.dashboard.context.current`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    g,
    make_response,
    redirect,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from lookout.dashboard import (
    admin_views,
    app_views,
    data_views,
    error_views,
    explorer_views,
    fmd_views,
    login_views,
    openapi,
    page_views,
    profile_views,
    report_views,
    tests_views,
)
from lookout.dashboard.api import ApiError, json_error
from lookout.dashboard.auth import ADMIN, SESSION_COOKIE, User
from lookout.dashboard.context import (
    BLUEPRINT_NAME,
    DashboardContext,
    DashboardOptions,
)
from lookout.dashboard.limits import check_request
from lookout.store.engine import SqlStore

__all__ = ["BLUEPRINT_NAME", "DashboardOptions", "create_blueprint"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
#: Endpoints served without a login.
#: FMD's submit-test-results checks its own token (it takes forms an unchanged FMD script sends).
PUBLIC = frozenset(
    {
        f"{BLUEPRINT_NAME}.static",
        f"{BLUEPRINT_NAME}.plotly",
        f"{BLUEPRINT_NAME}.{fmd_views.ENDPOINT}",
    }
)
#: The URL converter of names in routes (``<name:name>``): any text, slashes and line breaks
#: included, since a name is whatever the application called its endpoint, function or job.
NAME_CONVERTER = "name"


class NameConverter(PathConverter):
    regex = "[^/][\\s\\S]*?"


#: Every module that adds views; each has ``register(blueprint)``.
VIEW_MODULES = (
    login_views,
    page_views,
    data_views,
    admin_views,
    openapi,
    report_views,
    tests_views,
    explorer_views,
    app_views,
    fmd_views,
    profile_views,
    error_views,
)


def create_blueprint(
    store: Callable[[], SqlStore | None], options: DashboardOptions | None = None
) -> Blueprint:
    """The dashboard over ``store()`` (called per request: the store may open late)."""
    context = DashboardContext(store, options or DashboardOptions())
    blueprint = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    @blueprint.record_once
    def add_name_converter(state: Any) -> None:
        state.app.url_map.converters.setdefault(NAME_CONVERTER, NameConverter)

    @blueprint.before_request
    def identify() -> Any:
        g.lookout_dashboard = context
        refused = check_request(request, context.options.max_body_bytes)
        if refused is not None:
            return refused
        if request.endpoint in PUBLIC:
            return None
        return _check_user(context)

    @blueprint.after_request
    def secure(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @blueprint.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return json_error(error.status, error.message)

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if "/api/" in request.path:
            return json_error(error.code or 500, error.description or error.name)
        return make_response(error.get_response())

    for module in VIEW_MODULES:
        module.register(blueprint)
    # Last, so every real route wins: an unknown API path is a JSON 404 like the others, not
    # the host application's HTML page.
    blueprint.add_url_rule(
        f"/api/<{NAME_CONVERTER}:rest>",
        "api_unknown",
        _unknown_api_route,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    )
    return blueprint


def _unknown_api_route(rest: str) -> Response:
    raise ApiError(404, "no such API route; see api/openapi.json")


def _check_user(context: DashboardContext) -> Any:
    """Who is asking (token or session cookie), and may they: None lets the view run."""
    auth = context.authenticator()
    user: User | None
    if not context.options.auth:
        user = User("local", ADMIN, csrf="")
    else:
        user = auth.user_from_token(request.headers.get("Authorization"))
        user = user or auth.user_from_cookie(request.cookies.get(SESSION_COOKIE))
    g.lookout_user = user
    public = request.endpoint == f"{BLUEPRINT_NAME}.login"
    if user is None and not public:
        if request.path.startswith(url_for(f"{BLUEPRINT_NAME}.overview") + "api/"):
            return json_error(401, "log in or send 'Authorization: Bearer <token>'")
        return redirect(url_for(f"{BLUEPRINT_NAME}.login", next=request.full_path))
    changing = request.method not in ("GET", "HEAD", "OPTIONS")
    if changing and user is not None and context.options.auth and not user.via_token and not public:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, user.csrf):
            return json_error(403, "missing or wrong CSRF token")
    return None
