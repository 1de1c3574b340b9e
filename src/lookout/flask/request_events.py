"""Request events from captured values: in the application's dispatcher, or in the store's
writer process from a *portable* request (plain data that ``marshal`` can carry).

A request that needs nothing but its own fixed fields (no ``g`` values, no error, settings that
redact none of its field names) travels to the writer process as a portable tuple, and its Event
is built there: with ``store_process`` the application's process then only copies a few values
per request, where building the Event took most of the dispatcher's time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookout.events import ERROR, HOSTNAME, OK, Event, bound_name
from lookout.flask.useragent import user_agent_family

#: The first item of a portable request (see :mod:`lookout.portable`).
PORTABLE_REQUEST = "request"
#: What an endpoint is called when no route matched (404, 405).
UNMATCHED = "[unmatched]"
#: Most distinct methods whose tags object is shared (clients can send any method name).
MAX_METHOD_TAGS = 32
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


def portable_request(
    captured: tuple[Any, ...],
    clock_offset_ns: int,
    client_ip: str | None,
    pid: int,
    app_version: str | None,
) -> tuple[Any, ...]:
    """A portable request from the middleware's captured tuple (see ``_AppHooks._finish``):
    the layout :func:`event_from_portable` reads, kept beside it."""
    t0 = captured[1]
    return (
        PORTABLE_REQUEST,
        t0 + clock_offset_ns,
        captured[2] - t0,
        *captured[3:9],  # endpoint, method, status, size, request id, group
        client_ip,
        *captured[11:14],  # rule, path, user agent
        pid,
        app_version,
    )


def event_from_portable(item: tuple[Any, ...], naming: RequestNaming) -> Event:
    """The Event of a portable request (made by :func:`portable_request`)."""
    (
        _,
        start_ns,
        duration_ns,
        endpoint,
        method,
        status,
        size,
        rid,
        group,
        ip,
        rule,
        path,
        agent,
        pid,
        app_version,
    ) = item
    return new_event(
        (
            "request",
            naming.name_for(endpoint),
            start_ns,
            duration_ns,
            outcome_of(status, False),
            status,
            HOSTNAME,
            pid,
            app_version,
            rid,
            group,
            ip,
            naming.tags_for(method),
            request_fields(method, path, rule, size, agent),
            None,
            None,
            None,
        )
    )


def portable_builder() -> Callable[[tuple[Any, ...]], Event]:
    """What :mod:`lookout.portable` calls to build portable requests (one naming cache)."""
    naming = RequestNaming()
    return lambda item: event_from_portable(item, naming)
