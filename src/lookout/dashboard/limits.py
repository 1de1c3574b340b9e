"""What every dashboard request is checked for before any view or login check reads it.

- A body larger than ``max_body_bytes`` is a 413, whether it declares its length or is sent
  chunked (reading stops at the limit), before anything parses it.
- A NUL byte anywhere (path, query, form fields, JSON strings or keys, raw body) is a 400:
  PostgreSQL refuses NUL in text, so such a value would otherwise reach the database as a 500,
  and no name or setting Lookout keeps can contain one.
- A JSON body nested deeper than ``MAX_JSON_DEPTH`` is a 400 (Python's parser would raise
  RecursionError, a 500, at about 1,000 levels; the API's bodies are flat objects).

Also here: the client's address and whether the request came over HTTPS, believing
``X-Forwarded-For`` / ``X-Forwarded-Proto`` only as far as ``trusted_proxies`` says, with the
same rule as the Flask integration's recorded client address.
"""

from __future__ import annotations

from typing import Any

from flask import Request, Response

from lookout.dashboard.api import json_error
from lookout.flask.request_events import client_ip

MAX_JSON_DEPTH = 32


def check_request(request: Request, max_body_bytes: int) -> Response | None:
    """None when the request may go on; else the 400 or 413 answer."""
    length = request.content_length
    if length is not None and length > max_body_bytes:
        return _too_large(max_body_bytes)
    # a chunked body stops being read one byte past the limit (werkzeug truncates it there)
    request.max_content_length = max_body_bytes + 1
    if "\x00" in request.path or b"%00" in request.query_string.lower():
        return json_error(400, "NUL bytes are not accepted in the URL")
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        return json_error(400, "NUL bytes are not accepted in the URL")
    if length == 0:
        return None
    try:
        body = request.get_data(cache=True)
    except Exception as error:  # werkzeug's RequestEntityTooLarge on a chunked body
        if getattr(error, "code", None) == 413:
            return _too_large(max_body_bytes)
        raise
    if len(body) > max_body_bytes:
        return _too_large(max_body_bytes)
    # A compressed body (the pytest plugin's submissions) holds NUL bytes by nature; its
    # JSON is checked once decoded.
    if b"\x00" in body and request.headers.get("Content-Encoding", "identity") == "identity":
        return json_error(400, "NUL bytes are not accepted in the body")
    if request.mimetype == "application/x-www-form-urlencoded" and any(
        "\x00" in key or "\x00" in value for key, value in request.form.items(multi=True)
    ):
        return json_error(400, "NUL bytes are not accepted in form fields")
    if request.is_json and body:
        try:
            parsed = request.get_json(silent=True)
        except RecursionError:
            return json_error(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        problem = _json_problem(parsed)
        if problem:
            return json_error(400, problem)
    return None


def _too_large(limit: int) -> Response:
    return json_error(413, f"the request body is larger than {limit} bytes")


def _json_problem(value: Any) -> str | None:
    """Why a parsed JSON document is refused (too deep, NUL in a string), or None."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str):
            if "\x00" in item:
                return "NUL characters are not accepted in JSON strings"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return "NUL characters are not accepted in JSON keys"
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return None


def client_address(request: Request, trusted_proxies: int) -> str:
    """The client's address: ``X-Forwarded-For``'s as far as proxies are trusted."""
    forwarded = request.headers.get("X-Forwarded-For") if trusted_proxies else None
    return client_ip(request.remote_addr, forwarded, trusted_proxies) or ""


def is_https(request: Request, trusted_proxies: int) -> bool:
    """Whether the client reached us over HTTPS: directly, or (only behind trusted proxies)
    as the outermost trusted proxy's ``X-Forwarded-Proto`` says."""
    if request.is_secure:
        return True
    if not trusted_proxies:
        return False
    forwarded = request.headers.get("X-Forwarded-Proto")
    return (client_ip(None, forwarded, trusted_proxies) or "").lower() == "https"
