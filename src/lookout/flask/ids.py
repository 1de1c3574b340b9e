"""Request ids: honour a caller's id when it is safe to echo, otherwise make one.

An incoming id is copied into logs, the store and a response header, so it must not be able to
smuggle anything: only printable ASCII without spaces, quotes or separators, and bounded length.
"""

from __future__ import annotations

import re
import uuid

MAX_REQUEST_ID_LENGTH = 128
_SAFE_ID = re.compile(rf"[A-Za-z0-9._~:+/=@-]{{1,{MAX_REQUEST_ID_LENGTH}}}")


def new_request_id() -> str:
    """The default generator: 32 hex characters (a uuid4 without dashes)."""
    return uuid.uuid4().hex


def is_valid_request_id(value: str | None) -> bool:
    """True when ``value`` is a non-empty, bounded id made only of safe characters."""
    return value is not None and _SAFE_ID.fullmatch(value) is not None
