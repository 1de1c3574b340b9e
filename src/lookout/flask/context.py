"""Per-request state, kept in the WSGI environ, and the helpers that use it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from flask import Request, has_request_context, request

from lookout.flask.sampler import WatchedRequest
from lookout.units import CLOUDWATCH_UNITS

#: Where the request's state lives: the WSGI environ, one dict lookup away on every path.
STATE_KEY = "lookout.state"


class RequestState:
    """What Lookout remembers about the request being served.

    It is also the ``start_response`` the app sees (:meth:`start_response`): the response's
    status and headers pass through it, and the request id header is added there.
    """

    __slots__ = (
        "content_length",
        "error",
        "extra",
        "finished",
        "group",
        "header",
        "metrics",
        "request",
        "request_id",
        "server_start_response",
        "size",
        "status",
        "t0",
        "tb",
        "thread_id",
        "watched",
    )

    def __init__(
        self,
        t0: int,
        request_id: str,
        server_start_response: Callable[..., Any] | None = None,
        header: tuple[str, str] = ("X-Request-ID", "x-request-id"),
    ) -> None:
        self.t0 = t0
        self.request_id = request_id
        self.server_start_response = server_start_response
        #: the request id header's name, as sent and in lower case
        self.header = header
        self.status = "500 INTERNAL SERVER ERROR"
        #: Flask's request object, kept by :meth:`start_response` (or the exception signal)
        self.request: Request | None = None
        self.content_length: int | None = None
        self.metrics: list[tuple[str, float, str, dict[str, str]]] | None = None
        self.error: BaseException | None = None
        self.tb: TracebackType | None = None
        self.size: int | None = None
        self.finished = False
        #: tracked g variables and the group_by result, read in teardown_request
        self.extra: dict[str, Any] | None = None
        self.group: Any = None
        #: level 2+: what the sampler collects, and the request's thread
        self.watched: WatchedRequest | None = None
        self.thread_id = 0

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        """The WSGI ``start_response`` given to the app: notes status and Content-Length, and
        echoes the request id (replacing one the app set itself)."""
        self.status = status
        # Flask calls this from inside the request's context, the last moment the request
        # object (endpoint, URL rule) is at hand: it unlinks it when the context ends.
        # (None: a middleware inside Lookout's answered.)
        if _request_context is None:  # pragma: no cover - a Flask that moved its variable
            self.request = _request_from_proxy()
        else:
            context = _request_context(None)
            self.request = None if context is None else context.request
        header = self.header
        own_id_header = False
        id_length = len(header[1])
        for name, value in headers:
            # lengths first: most headers are neither, and lower() makes a new string
            if len(name) == 14 and name.lower() == "content-length":
                self.content_length = int(value) if value.isascii() and value.isdigit() else None
            elif len(name) == id_length and name.lower() == header[1]:
                own_id_header = True
        if own_id_header:  # the app set one: Lookout's id is the one the log lines carry
            headers = [pair for pair in headers if pair[0].lower() != header[1]]
        echoed = [(header[0], self.request_id), *headers]
        assert self.server_start_response is not None
        return self.server_start_response(status, echoed, exc_info)


def _request_from_proxy() -> Request | None:
    try:
        found: Request = request._get_current_object()  # type: ignore[attr-defined]
    except RuntimeError:
        return None
    return found


#: Reads Flask's request context, or None outside a request: straight from Flask's context
#: variable, where ``request._get_current_object()`` costs three more calls (start_response
#: runs for every request). None where a Flask moved it: the public proxy still works.
_request_context: Callable[[None], Any] | None
try:  # Flask 2.2 to 3.1 keep the request context in this variable
    from flask.globals import _cv_request
except ImportError:  # pragma: no cover
    _request_context = None
else:
    _request_context = _cv_request.get


def current_state() -> RequestState | None:
    if not has_request_context():
        return None
    state: RequestState | None = request.environ.get(STATE_KEY)
    return state


def request_id() -> str | None:
    """The current request's id (incoming ``X-Request-ID`` when valid, else a new one).

    Returns None outside a request, or in a request Lookout does not record.
    """
    state = current_state()
    return None if state is None else state.request_id


def _dimensions(
    dimensions: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
) -> dict[str, str]:
    """Accept ``{"route": "/"}`` or CloudWatch's ``[{"Name": "route", "Value": "/"}]``."""
    if dimensions is None:
        return {}
    if isinstance(dimensions, Mapping):
        return {str(key): str(value) for key, value in dimensions.items()}
    result: dict[str, str] = {}
    for item in dimensions:
        if not isinstance(item, Mapping) or "Name" not in item or "Value" not in item:
            raise ValueError(
                "dimensions: expected a dict of name to value, or a list of "
                f"{{'Name': ..., 'Value': ...}} dicts; got {item!r} in the list"
            )
        result[str(item["Name"])] = str(item["Value"])
    return result


def add_metric(
    name: str,
    value: float,
    unit: str = "None",
    dimensions: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Buffer a custom metric in the current request; it is recorded when the request ends.

    Args:
        name: the metric's name, e.g. ``"CartValue"``.
        value: a finite number.
        unit: one of CloudWatch's unit names (:data:`CLOUDWATCH_UNITS`), default ``"None"``.
        dimensions: ``{"route": "/cart"}`` or ``[{"Name": "route", "Value": "/cart"}]``.

    Raises:
        RuntimeError: outside a Flask request, or in an app without LookoutFlask.
        ValueError: an unknown unit, a value that is not a finite number, bad dimensions.
    """
    if unit not in CLOUDWATCH_UNITS:
        raise ValueError(
            f"add_metric: unit {unit!r} is not a CloudWatch unit; use one of "
            f"{', '.join(sorted(CLOUDWATCH_UNITS))}"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"add_metric: value must be a finite number; got {value!r}")
    if not name or not isinstance(name, str):
        raise ValueError(f"add_metric: name must be a non-empty string; got {name!r}")
    parsed_dimensions = _dimensions(dimensions)
    if not has_request_context():
        raise RuntimeError(
            "lookout.flask.add_metric() needs an active Flask request: call it from a view, "
            "a before/after_request handler or code they call"
        )
    state = current_state()
    if state is None:
        from flask import current_app

        if "lookout" not in current_app.extensions:
            raise RuntimeError(
                "lookout.flask.add_metric(): this app has no LookoutFlask; add "
                "LookoutFlask(app) (or init_app) first"
            )
        return  # this endpoint is not recorded (excluded or level 0)
    if state.metrics is None:
        state.metrics = []
    state.metrics.append((name, float(value), unit, parsed_dimensions))
