"""Which error group an error event belongs to: its fingerprint, made by the store's writer.

An error tracker is only useful if one bug is one row: a thousand occurrences of the same
``KeyError`` must not be a thousand rows, and two different bugs that both raise ``KeyError``
must not be one. The rules, in order (docs/errors.md):

1. **With a traceback**: the exception type plus the innermost frame of the application's own
   code, as module and function. Line numbers are left out (a deploy that moves code keeps the
   group), and so are library frames (site-packages, dist-packages, the standard library,
   ``<frozen ...>``, Lookout's own wrappers): they say how the call got there, not where the
   bug is. The callers above that frame are left out too: the same bug reached from two call
   paths (two views calling one helper) is one group, while a different frame raising the
   same type is another. A traceback with no application frame uses its innermost frame.
2. **Without a traceback**: the type plus the message with what varies masked: quoted values,
   UUIDs, hex strings, e-mail addresses and numbers (so "order 1234 not found" and "order 99
   not found" group together).
3. **An error without an exception** (a 5xx response, a failed run): the name (endpoint,
   job) plus the status.

The module is made of pure functions on text, so it runs wherever the writer runs and the
dashboard can mark a traceback's application frames with the same rules.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import NamedTuple

_FRAME = re.compile(r'^\s*File "(?P<path>[^"]*)", line \d+, in (?P<function>.+?)\s*$')
_TRACEBACK_START = "Traceback (most recent call last):"
_LIBRARY_PATH = re.compile(
    r"(site-packages|dist-packages|[/\\]lib[/\\]python\d[\d.]*[/\\]|[/\\]Lib[/\\]|^<)",
    re.IGNORECASE,
)
#: Lookout's own package: its wrappers (``monitor``, the Flask extension) are in every
#: traceback they capture, and are never the application's bug.
_LOOKOUT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

_MASKS = (
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'?'"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
)
#: Messages are masked from their first this many characters (a huge message is one group).
MAX_MESSAGE_CHARS = 500


class Frame(NamedTuple):
    """One frame of a formatted traceback."""

    path: str
    module: str
    function: str
    is_app: bool


class Fingerprint(NamedTuple):
    """A group's identity and what its row shows: ``key`` is the stored fingerprint."""

    key: str
    error_type: str
    culprit: str


def is_app_path(path: str) -> bool:
    """Whether a traceback's file belongs to the application (not a library, not Python's)."""
    if _LIBRARY_PATH.search(path):
        return False
    return not os.path.abspath(path).startswith(_LOOKOUT_DIR) if os.path.isabs(path) else True


def module_of(path: str) -> str:
    """A module name for a file: its folder and file name (``shop/views.py`` is
    ``shop.views``). The same code deployed under another root (``/srv/app`` on one host,
    ``/app`` in a container) keeps its name, and so its groups."""
    parts = [part for part in re.split(r"[/\\]", path) if part]
    if not parts:
        return path
    last = parts[-1].removesuffix(".py")
    if last == "__init__" and len(parts) > 1:
        return parts[-2]
    return ".".join([*parts[-2:-1], last])


def frames(traceback: str) -> list[Frame]:
    """The frames of the last exception in a formatted traceback, outermost first (a chained
    traceback's earlier exceptions are context; the last one is what was raised)."""
    start = traceback.rfind(_TRACEBACK_START)
    found = []
    for line in traceback[max(start, 0) :].splitlines():
        match = _FRAME.match(line)
        if match is not None:
            path, function = match["path"], match["function"]
            found.append(Frame(path, module_of(path), function, is_app_path(path)))
    return found


def mask(message: str) -> str:
    """The message with what varies between occurrences of one error masked (rule 2)."""
    masked = message[:MAX_MESSAGE_CHARS]
    for pattern, replacement in _MASKS:
        masked = pattern.sub(replacement, masked)
    return masked


def fingerprint(
    error_type: str | None,
    message: str | None,
    traceback: str | None,
    name: str,
    status: int | None,
) -> Fingerprint:
    """The group of an error event (see the module's docstring for the rules)."""
    kind = error_type or ""
    stack = frames(traceback) if traceback else []
    if stack:
        app = [frame for frame in stack if frame.is_app]
        where = (app or stack)[-1]
        culprit = f"{where.module}.{where.function}"
        parts = ("tb", kind, culprit)
    elif kind or message:
        culprit = name
        parts = ("msg", kind, mask(message or ""))
    else:
        kind = f"HTTP {status}" if status is not None and status >= 500 else "error"
        culprit = name
        parts = ("status", name, str(status))
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8", "replace"), digest_size=16)
    return Fingerprint(digest.hexdigest(), kind or "error", culprit[:255])
