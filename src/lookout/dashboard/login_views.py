"""The login form and logout: session cookies, login CSRF and failed-login limits."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from lookout.dashboard.auth import SESSION_COOKIE, SESSION_MAX_AGE_S
from lookout.dashboard.context import BLUEPRINT_NAME, current

LOGIN_COOKIE = "lookout_login_csrf"


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    blueprint.add_url_rule("/logout", "logout", logout, methods=["POST"])


def _root() -> str:
    return url_for(f"{BLUEPRINT_NAME}.overview")


def login() -> Any:
    context = current()
    message, status = None, 200
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
        keys = (f"ip:{request.remote_addr}", f"user:{user}")
        wait = auth.limiter.retry_after(*keys)
        if wait > 0:
            message = f"Too many failed logins; try again in {int(wait) + 1} s."
            status = 429
        else:
            role = auth.check_password(user, password)
            if role is not None:
                target = request.args.get("next", "")
                if not target.startswith(_root()):
                    target = _root()  # no open redirects
                response = redirect(target)
                response.set_cookie(
                    SESSION_COOKIE,
                    auth.session_cookie(user, role),
                    max_age=SESSION_MAX_AGE_S,
                    httponly=True,
                    samesite="Lax",
                    secure=request.is_secure,
                    path=_root(),
                )
                return response
            auth.limiter.failed(*keys)
            message, status = "Wrong user name or password.", 401
    form_token = secrets.token_urlsafe(24)
    html = render_template(
        "lookout/login.html",
        title=context.options.title,
        message=message,
        colors=context.colors,
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
        path=_root(),
    )
    return response


def logout() -> Any:
    response = redirect(url_for(f"{BLUEPRINT_NAME}.login"))
    response.delete_cookie(SESSION_COOKIE, path=_root())
    return response
