"""What every JSON view shares: checked query parameters and bodies, and error answers.

Bad input is always a 400 whose message names the parameter or field, never a 500, so a
script using the API learns what to fix from the answer alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, jsonify, request

#: The ranges every page and API accepts as ``range``, in seconds.
RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
KINDS = ("request", "call", "run", "metric")


class ApiError(Exception):
    """Raised by a view to answer ``status`` with ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def params(allowed: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
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


def parse_range(value: str) -> int:
    """A ``range`` parameter (``1h`` ... ``30d``) in seconds."""
    if value not in RANGES:
        raise ValueError(value)
    return RANGES[value]


def parse_kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(value)
    return value


def parse_days(value: str) -> int:
    days = int(value)
    if not 1 <= days <= 366:
        raise ValueError(value)
    return days


def json_body(fields: Mapping[str, type]) -> dict[str, Any]:
    """The request's JSON object, with exactly ``fields`` of the given types."""
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


def json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    return response
