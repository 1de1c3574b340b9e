"""The one record Lookout produces: an :class:`Event`.

Every monitored call, Flask request, custom metric and script run becomes an Event and travels
the same road (Recorder -> sinks). An Event is an immutable named tuple: cheap to build in a
worker thread, cheap to pass around, and impossible for one sink to change under another.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Literal, NamedTuple

from lookout.coerce import (
    DEFAULT_LIMITS,
    JSONValue,
    Limits,
    bound_str,
    coerce_fields,
    make_safe,
    safe_text,
)

EventKind = Literal["call", "request", "metric", "run", "message"]
EVENT_KINDS: Final = ("call", "request", "metric", "run", "message")
OK: Final = "ok"
ERROR: Final = "error"

#: This machine's name on every event: ``LOOKOUT_HOSTNAME`` when set (containers otherwise
#: report a random id), else the machine's. A ``hostname`` set in a config file or passed to
#: ``Lookout`` renames it in the SQL store when sources are registered (see ``BatchWriter``).
HOSTNAME: Final = os.environ.get("LOOKOUT_HOSTNAME", "").strip()[:255] or socket.gethostname()


class Event(NamedTuple):
    """A single observation.

    Attributes:
        kind: ``call``, ``request``, ``metric``, ``run`` or ``message``.
        name: the function (``module.qualname``), endpoint, metric or job name.
        start_ns: start time, nanoseconds since the Unix epoch.
        duration_ns: how long it took, in nanoseconds (0 for instantaneous events).
        outcome: ``"ok"`` or ``"error"``.
        status: the HTTP status code of a request, or a script's exit code; None otherwise.
        host: the machine's host name.
        pid: the recording process.
        app_version: the application version configured on the Lookout instance.
        request_id: the request this event belongs to, if any.
        group: who or what the event is attributed to (a user id, a session), if known.
        client_ip: the client address of a request.
        tags: low-cardinality labels (str to str), safe to index on.
        fields: JSON values (tracked ``g`` variables, extra per-call data, metric values).
        error_type: qualified name of the exception class, for failures.
        error_message: ``str()`` of the exception, bounded.
        traceback: the formatted traceback, bounded.
    """

    kind: str
    name: str
    start_ns: int
    duration_ns: int = 0
    outcome: str = OK
    status: int | None = None
    host: str = HOSTNAME
    pid: int = 0
    app_version: str | None = None
    request_id: str | None = None
    group: str | None = None
    client_ip: str | None = None
    tags: Mapping[str, str] = {}
    fields: Mapping[str, JSONValue] = {}
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None

    @property
    def is_error(self) -> bool:
        return self.outcome == ERROR

    @property
    def duration_ms(self) -> float:
        return self.duration_ns / 1e6


def make_event(
    kind: str,
    name: str,
    *,
    start_ns: int | None = None,
    duration_ns: int = 0,
    outcome: str = OK,
    status: int | None = None,
    app_version: str | None = None,
    request_id: str | None = None,
    group: str | None = None,
    client_ip: str | None = None,
    tags: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
    error: BaseException | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Event:
    """Build an Event from user-supplied values, coercing everything to safe, bounded forms.

    This is the constructor for code that emits its own events (``lk.emit(make_event(...))``);
    the integrations build events in their own fast paths. Redaction happens later, in the
    Recorder, so that no path can skip it.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}; got {kind!r}")
    if outcome not in (OK, ERROR):
        raise ValueError(f"outcome must be 'ok' or 'error'; got {outcome!r}")
    error_type = error_message = tb_text = None
    if error is not None:
        outcome = ERROR
        error_type, error_message, tb_text = describe_error(error, limits)
    max_bytes = limits.max_value_bytes
    return Event(
        kind=kind,
        name=bound_name(name),
        start_ns=time.time_ns() if start_ns is None else int(start_ns),
        duration_ns=int(duration_ns),
        outcome=outcome,
        status=status,
        host=HOSTNAME,
        pid=os.getpid(),
        app_version=app_version,
        request_id=None if request_id is None else safe_text(bound_str(str(request_id), 256)),
        group=None if group is None else safe_text(bound_str(str(group), max_bytes)),
        client_ip=None if client_ip is None else safe_text(str(client_ip)),
        tags=make_safe({str(k): bound_str(str(v), 256) for k, v in (tags or {}).items()}),
        fields=coerce_fields(fields or {}, limits),
        error_type=error_type,
        error_message=error_message,
        traceback=tb_text,
    )


MAX_NAME_CHARS: Final = 255


def bound_name(name: object) -> str:
    """Names are stored in indexed columns, so they are cut to 255 characters (and made safe:
    no lone surrogate or NUL, see :func:`lookout.coerce.safe_text`)."""
    text = safe_text(name if type(name) is str else str(name))
    return text if len(text) <= MAX_NAME_CHARS else text[: MAX_NAME_CHARS - 1] + "…"


def describe_error(
    error: BaseException, limits: Limits = DEFAULT_LIMITS, tb: TracebackType | None = None
) -> tuple[str, str, str]:
    """Return (qualified type name, bounded message, bounded formatted traceback).

    ``tb`` is the traceback as it was when the error was captured; by default the error's
    current one (which grows as the exception travels up the stack).
    """
    import traceback as tb_module

    cls = type(error)
    module = cls.__module__
    type_name = cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
    try:
        message = str(error)
    except Exception:
        message = f"<unprintable {type_name}>"
    text = "".join(tb_module.format_exception(cls, error, tb or error.__traceback__))
    max_bytes = limits.max_value_bytes
    # Keep the end of a long traceback: the innermost frames are where the error is.
    if len(text.encode("utf-8", "replace")) > max_bytes:
        tail = text.encode("utf-8", "replace")[-(max_bytes - 64) :].decode("utf-8", "ignore")
        text = "…[traceback start cut]\n" + tail
    return safe_text(type_name), safe_text(bound_str(message, max_bytes)), safe_text(text)


def event_document(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready dict: every field, ``time`` in ISO 8601 UTC, no empty ones."""
    document: dict[str, Any] = {
        "time": dt.datetime.fromtimestamp(event.start_ns / 1e9, dt.timezone.utc).isoformat(),
    }
    for name, value in zip(Event._fields, event, strict=True):
        if value is not None and value != {}:
            document[name] = value
    document["duration_ms"] = event.duration_ns / 1e6
    return document
