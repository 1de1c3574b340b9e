"""Request ids: honour a caller's id when it is safe to echo, otherwise make one.

An incoming id is copied into logs, the store and a response header, so it must not be able to
smuggle anything: only printable ASCII without spaces, quotes or separators, and bounded length.
"""

from __future__ import annotations

import os
import random
import re

MAX_REQUEST_ID_LENGTH = 128
_random_bytes = random.randbytes
#: Ids made ahead, 256 at a time: random bytes cut in pieces cost a tenth of making each id
#: on its own. Emptied in a forked child, whose ``random`` Python reseeds.
_POOL_SIZE = 256
_pool: list[str] = []
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.clear)
_SAFE_ID = re.compile(rf"[A-Za-z0-9._~:+/=@-]{{1,{MAX_REQUEST_ID_LENGTH}}}")


def new_request_id() -> str:
    """The default generator: 32 random hex characters (128 bits, like a uuid4).

    From the ``random`` module, which Python reseeds in every forked child, rather than
    ``uuid4()``: a request id correlates log lines, it guards nothing, and this is several
    times cheaper than a system call per request.
    """
    try:
        return _pool.pop()
    except IndexError:
        # hex() puts a space after every 16 bytes and split() cuts there: all in C, where
        # slicing one long hex string in Python took 25 of the 65 µs per refill.
        _pool.extend(_random_bytes(16 * _POOL_SIZE).hex(" ", 16).split())
        return _pool.pop()


def is_valid_request_id(value: str | None) -> bool:
    """True when ``value`` is a non-empty, bounded id made only of safe characters."""
    return value is not None and _SAFE_ID.fullmatch(value) is not None
