"""Logging in the way a browser does: fetch the form (and its CSRF cookie), then post it."""

from __future__ import annotations

import re
from typing import Any

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the login form has no CSRF token"
    return found.group(1)


def post_login(client: Any, user: str, password: str, prefix: str = "/dashboard") -> Any:
    token = form_token(client.get(f"{prefix}/login").get_data(as_text=True))
    return client.post(
        f"{prefix}/login", data={"username": user, "password": password, "csrf_token": token}
    )
