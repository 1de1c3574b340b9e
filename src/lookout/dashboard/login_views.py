"""The login form and logout: server-side sessions, login CSRF and failed-login throttling."""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from lookout.dashboard.auth import SESSION_COOKIE, SESSION_MAX_AGE_S
from lookout.dashboard.context import BLUEPRINT_NAME, current
from lookout.dashboard.limits import client_address, is_https

LOGIN_COOKIE = "lookout_login_csrf"


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    blueprint.add_url_rule("/logout", "logout", logout, methods=["POST"])


def _root() -> str:
    return url_for(f"{BLUEPRINT_NAME}.overview")


def login() -> Any:
    context = current()
    message, status, retry_after = None, 200, 0
    # Login CSRF: the form's token must match a cookie set with the form (double submit),
    # so another site cannot log a visitor into an account of its choosing.
    sent_token = request.cookies.get(LOGIN_COOKIE) or ""
    if request.method == "POST" and not (
        sent_token and hmac.compare_digest(request.form.get("csrf_token", ""), sent_token)
    ):
        message, status = "The login form expired; please try again.", 403
    elif request.method == "POST":
        auth = context.authenticator()
        user = request.form.get("username", "")[:100]
        password = request.form.get("password", "")[:1000]
        address = client_address(request, context.options.trusted_proxies)
        wait = auth.throttle.retry_after(user, address)
        if wait > 0:
            retry_after = math.ceil(wait)
            message = f"Too many failed logins; try again in {retry_after} s."
            status = 429
        else:
            role = auth.check_password(user, password)
            if role is not None:
                auth.throttle.succeeded(user, address)
                target = request.args.get("next", "")
                if not target.startswith(_root()):
                    target = _root()  # no open redirects
                response = redirect(target)
                response.set_cookie(
                    SESSION_COOKIE,
                    auth.start_session(user, role, password),
                    max_age=SESSION_MAX_AGE_S,
                    httponly=True,
                    samesite="Lax",
                    secure=_secure(),
                    path=_root(),
                )
                return response
            delay = auth.throttle.failed(user, address)
            message, status = "Wrong user name or password.", 401
            if delay > 0:
                retry_after = math.ceil(delay)
                message += f" Wait {retry_after} s before the next try."
    form_token = secrets.token_urlsafe(24)
    html = render_template(
        "lookout/login.html",
        title=context.options.title,
        message=message,
        colors=context.colors,
        csrf=form_token,
    )
    response = make_response(html, status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    response.set_cookie(
        LOGIN_COOKIE,
        form_token,
        max_age=3600,
        httponly=True,
        samesite="Lax",
        secure=_secure(),
        path=_root(),
    )
    return response


def _secure() -> bool:
    """Whether cookies get the Secure flag: always with ``secure_cookies``, else over HTTPS."""
    options = current().options
    return options.secure_cookies or is_https(request, options.trusted_proxies)


def logout() -> Any:
    """End the session in the store (the cookie is refused from now on, everywhere)."""
    current().authenticator().end_session(request.cookies.get(SESSION_COOKIE))
    response = redirect(url_for(f"{BLUEPRINT_NAME}.login"))
    response.delete_cookie(SESSION_COOKIE, path=_root(), secure=_secure(), httponly=True)
    return response
