"""Request events from captured values, or stored records from *portable* requests.

A request that needs nothing but its own fixed fields (no ``g`` values, no error, settings that
redact none of its field names) travels to the store's writer as a portable tuple of plain
values, and is stored from that without an Event (see :mod:`lookout.portable`): the dispatcher
then only copies a few values per request, where building the Event took most of its time. The
same tuple crosses to the writer process with ``store_process`` (``marshal`` carries it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookout.events import ERROR, HOSTNAME, OK, Event, bound_name
from lookout.flask.useragent import user_agent_family
from lookout.jsontext import to_json
from lookout.portable import NameKey, RowContext, SourceKey

#: The first item of a portable request (see :mod:`lookout.portable`).
PORTABLE_REQUEST = "request"
#: What an endpoint is called when no route matched (404, 405).
UNMATCHED = "[unmatched]"
#: Most distinct methods whose tags object is shared (clients can send any method name).
MAX_METHOD_TAGS = 32
#: Most distinct request fields whose JSON is remembered at a time (paths can be unbounded).
MAX_FIELDS_JSON = 4096
#: Most endpoint names remembered in their bounded form (an app has as many as it has views).
MAX_ENDPOINT_NAMES = 10_000


class RequestNaming:
    """The bounded endpoint names and per-method tags objects, shared by many events."""

    __slots__ = ("_method_tags", "_names")

    def __init__(self) -> None:
        self._method_tags: dict[str, dict[str, str]] = {}
        self._names: dict[str | None, str] = {}

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


def portable_request(
    captured: tuple[Any, ...],
    clock_offset_ns: int,
    pid: int,
    app_version: str | None,
    trusted_proxies: int,
) -> tuple[Any, ...]:
    """A portable request from the middleware's captured tuple (see ``AppHooks._finish``):
    the layout :class:`RequestRows` reads, kept beside it. The values its fields are
    made of come last, so that one slice is the key of their JSON.

    This is where the request's own strings are read and bounded, in the recorder's threads
    rather than the request's: method, status code, rule and path. The dispatcher runs it for
    every request: the captured values are given their types first, which lets the compiled
    build (docs/native.md) work on them directly; events that need more than these values are
    built from its result too (``RequestSource.build_event``).
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
        PORTABLE_REQUEST,
        t0 + clock_offset_ns,
        t1 - t0,
        captured[3],  # endpoint
        code,
        captured[7],  # request id
        captured[8],  # group
        captured[9]  # REMOTE_ADDR, unless proxies in front are trusted
        if not trusted_proxies
        else client_ip(captured[9], captured[10], trusted_proxies),
        pid,
        app_version,
        method if len(method) <= 16 else method[:16],
        path if len(path) <= 1024 else path[:1024],
        rule if rule is None or len(rule) <= 1024 else rule[:1024],
        captured[6],  # response size
        captured[13],  # user agent
    )


class _LastSource:
    """The last source a row referred to: one process sends most requests."""

    __slots__ = ("id", "pid", "version")

    def __init__(self) -> None:
        self.pid = -1
        self.version: str | None = None
        self.id = 0


class RequestRows:
    """Rows of the events table straight from portable requests (see :mod:`lookout.portable`).

    A route's requests mostly repeat their fields (method, path, rule, size, client family):
    their JSON is remembered for up to MAX_FIELDS_JSON distinct values at a time, and each
    method's tags once. An endpoint's name id, and the last source's id, are remembered too:
    the writer calls :meth:`row` for every request stored.
    """

    def __init__(self, context: RowContext) -> None:
        self._naming = RequestNaming()
        self.row = self._row_function(context)

    def keys(self, item: tuple[Any, ...]) -> tuple[NameKey, SourceKey]:
        return ("request", self._naming.name_for(item[3])), (HOSTNAME, item[8], item[9] or "")

    def _row_function(self, context: RowContext) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        naming = self._naming
        name_ids, source_ids = context.name_ids, context.source_ids
        null_text, null_int = context.null_text, context.null_int
        tags_json: dict[str, str] = {}
        fields_json: dict[tuple[Any, ...], str] = {}
        endpoint_ids: dict[str | None, int] = {}
        last_source = _LastSource()

        def row(item: tuple[Any, ...]) -> tuple[Any, ...]:
            method: str = item[10]
            endpoint: str | None = item[3]
            status: int = item[4]
            pid: int = item[8]
            version: str | None = item[9]
            values = item[10:]
            fields = fields_json.get(values)
            if fields is None:
                if len(fields_json) >= MAX_FIELDS_JSON:
                    fields_json.clear()
                fields = fields_json[values] = to_json(request_fields(*values))
            tags = tags_json.get(method)
            if tags is None:
                tags = to_json(naming.tags_for(method))
                if len(tags_json) < MAX_METHOD_TAGS:
                    tags_json[method] = tags
            name_id = endpoint_ids.get(endpoint)
            if name_id is None:
                name_id = name_ids[("request", naming.name_for(endpoint))]
                if len(endpoint_ids) < MAX_ENDPOINT_NAMES:
                    endpoint_ids[endpoint] = name_id
            if pid != last_source.pid or version != last_source.version:
                last_source.id = source_ids[(HOSTNAME, pid, version or "")]
                last_source.pid, last_source.version = pid, version
            group: str | None = item[6]
            ip: str | None = item[7]
            return (
                name_id,
                item[1],  # start
                item[2],  # duration
                1 if status >= 500 else 0,  # a plain request has no exception
                status,
                last_source.id,
                item[5],  # request id: never None
                null_text if group is None else group,
                null_text if ip is None else ip,
                tags,
                fields,
                null_text,  # error type, message and traceback
                null_text,
                null_text,
                null_int,  # error group: the store's writer sets it for a 5xx
            )

        return row
