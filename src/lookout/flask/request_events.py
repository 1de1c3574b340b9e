"""Request events from the values the middleware captured.

Every request becomes an :class:`~lookout.events.Event`, as every other kind does: one record
from capture to every sink. What makes that cheap for requests is sharing what repeats: a
route's requests mostly have the same method, path, rule, size and client family, so their
``fields`` (and each method's ``tags``) are one dict object per distinct value, made once. The
store's writer then makes the JSON of a shared dict once per batch (it keys its JSON by the
object), and ``marshal`` sends a shared dict once per batch to the writer process.
"""

from __future__ import annotations

from typing import Any

from lookout.events import ERROR, OK, Event, bound_name
from lookout.flask.useragent import user_agent_family

#: What an endpoint is called when no route matched (404, 405).
UNMATCHED = "[unmatched]"
#: Most distinct methods whose tags object is shared (clients can send any method name).
MAX_METHOD_TAGS = 32
#: Most distinct request fields shared at a time (paths can be unbounded: then the oldest go).
MAX_SHARED_FIELDS = 4096
#: Most endpoint names remembered in their bounded form (an app has as many as it has views).
MAX_ENDPOINT_NAMES = 10_000


class RequestNaming:
    """The bounded endpoint names, and the per-method tags and per-value fields objects shared
    by many events. Shared objects are never changed after they are made: an Event's mappings
    are read-only for every sink."""

    __slots__ = ("_fields", "_method_tags", "_names")

    def __init__(self) -> None:
        self._method_tags: dict[str, dict[str, str]] = {}
        self._names: dict[str | None, str] = {}
        self._fields: dict[tuple[Any, ...], dict[str, Any]] = {}

    def fields_for(self, values: tuple[Any, ...]) -> dict[str, Any]:
        """The same fields object for every request with these (method, path, rule, size,
        agent) values; ``values`` is hashable (plain strings and ints)."""
        fields = self._fields.get(values)
        if fields is None:
            if len(self._fields) >= MAX_SHARED_FIELDS:
                self._fields.clear()  # the events holding them keep them alive
            fields = self._fields[values] = request_fields(*values)
        return fields

    def tags_for(self, method: str) -> dict[str, str]:
        """The same tags object for every request of a common method."""
        tags = self._method_tags.get(method)
        if tags is None:
            tags = {"method": method}
            if len(self._method_tags) < MAX_METHOD_TAGS:
                self._method_tags[method] = tags
        return tags

    def name_for(self, endpoint: str | None) -> str:
        name = self._names.get(endpoint)
        if name is None:
            name = bound_name(endpoint or UNMATCHED)
            if len(self._names) < MAX_ENDPOINT_NAMES:
                self._names[endpoint] = name
        return name


def request_fields(
    method: str, path: str, rule: str | None, size: int | None, agent: str | None
) -> dict[str, Any]:
    """The fields every request event has (bounded by the capture: see REQUEST_FIELDS_MAX_BYTES)."""
    fields: dict[str, Any] = {"method": method, "path": path}
    if rule is not None:
        fields["rule"] = rule
    if size is not None:
        fields["response_bytes"] = size
    if agent is not None:
        fields["user_agent"] = user_agent_family(agent)
    return fields


def outcome_of(status: int | None, failed: bool) -> str:
    return ERROR if failed or (status is not None and status >= 500) else OK


def new_event(values: tuple[Any, ...]) -> Event:
    """An Event from its 17 values, without the Python-level ``__new__`` of a named tuple
    (this runs for every request recorded)."""
    return tuple.__new__(Event, values)


def client_ip(
    remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int
) -> str | None:
    """The client's address, believing ``X-Forwarded-For`` only as far as proxies are trusted.

    With N trusted proxies, the N-th address from the right of ``X-Forwarded-For`` is the
    client (the one the outermost trusted proxy saw); anything further left could be forged.
    """
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        return remote_addr
    return hops[-trusted_proxies][:64]


def status_code(status_line: str) -> int:
    """The code of a WSGI status line; 500 when it does not start with three ASCII digits
    (``"²".isdigit()`` is True)."""
    code = status_line[:3]
    return int(code) if code.isascii() and code.isdigit() else 500


#: status line -> code, for the lines an app sends (a handful): a dict lookup per request
#: instead of slicing and parsing. Bounded, as an app may make up reason phrases.
_STATUS_CODES: dict[str, int] = {}
MAX_STATUS_LINES = 1024


def request_values(
    captured: tuple[Any, ...], clock_offset_ns: int, trusted_proxies: int
) -> tuple[int, int, str | None, int, str | None, str | None, str | None, tuple[Any, ...]]:
    """(start ns, duration ns, endpoint, status code, request id, group, client IP, and the
    (method, path, rule, size, agent) the fields are made of) from the middleware's captured
    tuple (see ``AppHooks._finish``).

    This is where the request's own strings are read and bounded, in the recorder's threads
    rather than the request's: method, status code, rule and path. The captured values are
    given their types first, which lets the compiled build (docs/native.md) work on them
    directly.
    """
    t0: int = captured[1]
    t1: int = captured[2]
    status_line: str = captured[5]
    method: str = captured[4]
    path: str = captured[12]
    rule: str | None = captured[11]
    code = _STATUS_CODES.get(status_line)
    if code is None:
        code = status_code(status_line)
        if len(_STATUS_CODES) < MAX_STATUS_LINES:
            _STATUS_CODES[status_line] = code
    return (
        t0 + clock_offset_ns,
        t1 - t0,
        captured[3],  # endpoint
        code,
        captured[7],  # request id
        captured[8],  # group
        captured[9]  # REMOTE_ADDR, unless proxies in front are trusted
        if not trusted_proxies
        else client_ip(captured[9], captured[10], trusted_proxies),
        (
            method if len(method) <= 16 else method[:16],
            path if len(path) <= 1024 else path[:1024],
            rule if rule is None or len(rule) <= 1024 else rule[:1024],
            captured[6],  # response size
            captured[13],  # user agent
        ),
    )


def plain_request_event(
    captured: tuple[Any, ...],
    clock_offset_ns: int,
    pid: int,
    app_version: str | None,
    host: str,
    naming: RequestNaming,
) -> Event:
    """The Event of a plain request (no ``g`` values, no error, settings that leave its
    fields as they are, no trusted proxies), in one step: :func:`request_values` and
    :class:`RequestNaming`'s lookups inlined, because this runs for nearly every request
    recorded and each call and intermediate tuple showed in its cost."""
    t0: int = captured[1]
    status_line: str = captured[5]
    method: str = captured[4]
    path: str = captured[12]
    rule: str | None = captured[11]
    endpoint: str | None = captured[3]
    code = _STATUS_CODES.get(status_line)
    if code is None:
        code = status_code(status_line)
        if len(_STATUS_CODES) < MAX_STATUS_LINES:
            _STATUS_CODES[status_line] = code
    if len(method) > 16:
        method = method[:16]
    if len(path) > 1024:
        path = path[:1024]
    if rule is not None and len(rule) > 1024:
        rule = rule[:1024]
    key = (method, path, rule, captured[6], captured[13])
    fields = naming._fields.get(key)
    if fields is None:
        fields = naming.fields_for(key)
    tags = naming._method_tags.get(method)
    if tags is None:
        tags = naming.tags_for(method)
    name = naming._names.get(endpoint)
    if name is None:
        name = naming.name_for(endpoint)
    return tuple.__new__(
        Event,
        (
            "request",
            name,
            t0 + clock_offset_ns,
            captured[2] - t0,
            ERROR if code >= 500 else OK,
            code,
            host,
            pid,
            app_version,
            captured[7],  # request id
            captured[8],  # group
            captured[9],  # REMOTE_ADDR: no proxy is trusted
            tags,
            fields,
            None,
            None,
            None,
        ),
    )
