"""The request explorer (pages and API), its streamed export, and the per-host comparison.

Reads are in :mod:`lookout.dashboard.explorer` and :mod:`lookout.dashboard.hosts`; this
module checks parameters and answers. See docs/explorer.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, jsonify, stream_with_context

from lookout.dashboard import explorer, hosts
from lookout.dashboard.api import KINDS, RANGES, ApiError, params, parse_kind, parse_range
from lookout.dashboard.context import current
from lookout.dashboard.explorer_filters import Filters
from lookout.dashboard.spec import (
    BOOLEAN,
    INTEGER,
    INTEGER_OR_NULL,
    NAME_PARAMS,
    NUMBER,
    STRING,
    STRING_OR_NULL,
    array,
    integer,
    number,
    obj,
    operation,
    path_param,
    query,
    text,
)

EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/explorer", "explorer_page", explorer_page, methods=["GET"])
    blueprint.add_url_rule(
        "/explorer/event/<int:event_id>", "event_page", event_page, methods=["GET"]
    )
    blueprint.add_url_rule("/api/explorer/events", "api_explorer", api_explorer, methods=["GET"])
    blueprint.add_url_rule(
        "/api/explorer/events/<int:event_id>", "api_event", api_event, methods=["GET"]
    )
    blueprint.add_url_rule(
        "/api/explorer/export", "api_explorer_export", api_export, methods=["GET"]
    )
    blueprint.add_url_rule("/api/filters", "api_filters", api_filters, methods=["GET"])
    blueprint.add_url_rule(
        "/api/names/<kind>/<name:name>/hosts", "api_hosts", api_hosts, methods=["GET"]
    )


def explorer_page() -> str:
    return current().page("explorer.html", page_name="explorer")


def event_page(event_id: int) -> str:
    return current().page("event.html", page_name="event", event_id=event_id)


def _text(limit: int, *, empty: bool = False) -> Callable[[str], str]:
    """Text up to ``limit`` characters without NUL; ``empty`` allows '' (a version filter's
    "events without a version")."""

    def parse(value: str) -> str:
        if (not value and not empty) or len(value) > limit or "\x00" in value:
            raise ValueError(value)
        return value

    return parse


def _status_class(value: str) -> str:
    if value not in explorer.STATUS_CLASSES:
        raise ValueError(value)
    return value


def _outcome(value: str) -> str:
    if value not in ("ok", "error"):
        raise ValueError(value)
    return value


def _ms(value: str) -> float:
    number = float(value)
    if not 0 <= number < 1e9:
        raise ValueError(value)
    return number


def _epoch(value: str) -> int:
    number = int(value)
    if not 0 <= number < 2**33:
        raise ValueError(value)
    return number


def _cursor(value: str) -> int:
    number = int(value)
    if not 0 <= number < 2**62:
        raise ValueError(value)
    return number


def _order(value: str) -> str:
    if value not in ("newest", "oldest"):
        raise ValueError(value)
    return value


def _limit(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 500:
        raise ValueError(value)
    return number


def _format(value: str) -> str:
    if value not in EXPORT_FORMATS:
        raise ValueError(value)
    return value


FILTER_PARAMS: dict[str, Callable[[str], Any]] = {
    "kind": parse_kind,
    "name": _text(255),
    "status": _status_class,
    "outcome": _outcome,
    "user": _text(255),
    "version": _text(64, empty=True),
    "host": _text(255),
    "min_ms": _ms,
    "max_ms": _ms,
    "request_id": _text(128),
    "range": parse_range,
    "from": _epoch,
    "to": _epoch,
    "q": _text(200),
}


def _filters(args: dict[str, Any]) -> Filters:
    from_s, to_s = args.get("from"), args.get("to")
    if from_s is None and "range" in args:
        from_s = int(time.time()) - args["range"]
    if from_s is not None and to_s is not None and from_s >= to_s:
        raise ApiError(400, "parameter 'from' must be before 'to'")
    return Filters(
        kind=args.get("kind"),
        name=args.get("name"),
        status_class=args.get("status"),
        outcome=args.get("outcome"),
        user=args.get("user"),
        version=args.get("version"),
        host=args.get("host"),
        min_ms=args.get("min_ms"),
        max_ms=args.get("max_ms"),
        request_id=args.get("request_id"),
        from_s=from_s,
        to_s=to_s,
        text=args.get("q"),
    )


def api_explorer() -> Response:
    args = params({**FILTER_PARAMS, "cursor": _cursor, "order": _order, "limit": _limit})
    started = time.perf_counter()
    found = explorer.page(
        current().store(),
        _filters(args),
        cursor=args.get("cursor"),
        oldest_first=args.get("order") == "oldest",
        limit=args.get("limit", 50),
    )
    found["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return jsonify(found)


def api_event(event_id: int) -> Response:
    params({})
    found = explorer.event(current().store(), event_id)
    if found is None:
        raise ApiError(404, f"no event {event_id}")
    return jsonify(found)


def api_export() -> Response:
    args = params({**FILTER_PARAMS, "format": _format})
    chosen = args.get("format", "csv")
    store = current().store()
    filters = _filters(args)
    chunks = explorer.export(store, filters, as_csv=chosen == "csv")
    response = Response(stream_with_context(chunks), mimetype=EXPORT_FORMATS[chosen])
    response.headers["Content-Disposition"] = f'attachment; filename="lookout-events.{chosen}"'
    return response


def api_filters() -> Response:
    params({})
    return jsonify(hosts.filters(current().store()))


def api_hosts(kind: str, name: str) -> Response:
    if kind not in KINDS:
        abort(404)
    args = params({"range": parse_range, "version": _text(64, empty=True)})
    found = hosts.by_host(
        current().store(),
        kind,
        name,
        since_s=args.get("range", 7 * 86400),
        version=args.get("version"),
    )
    return jsonify(found)


#: An event's row as the explorer lists it (the Errors page's occurrences too).
EVENT_ROW = obj(
    {
        "id": INTEGER,
        "start_ns": INTEGER,
        "kind": STRING,
        "name": STRING,
        "duration_ms": NUMBER,
        "outcome": STRING,
        "status": INTEGER_OR_NULL,
        "host": STRING,
        "version": STRING,
        "request_id": STRING_OR_NULL,
        "user": STRING_OR_NULL,
        "client_ip": STRING_OR_NULL,
        "path": STRING_OR_NULL,
        "error_type": STRING_OR_NULL,
        "error_message": STRING_OR_NULL,
    },
    more=True,
)


def openapi_paths() -> dict[str, Any]:
    """This module's routes in the OpenAPI document."""
    filter_params = [
        query("kind", {"type": "string", "enum": list(KINDS)}, "Only this kind."),
        query("name", text(255), "Only this name."),
        query("status", {"type": "string", "enum": list(explorer.STATUS_CLASSES)}, "Status class."),
        query("outcome", {"type": "string", "enum": ["ok", "error"]}, "Outcome."),
        query("user", text(255), "Only this user (the event's group)."),
        query("version", text(64, min_length=0), "Only this app version ('' for none)."),
        query("host", text(255), "Only this host."),
        query("min_ms", number(0, 1e9), "Shortest duration, ms."),
        query("max_ms", number(0, 1e9), "Longest duration, ms."),
        query("request_id", text(128), "Only this request id."),
        query("range", {"type": "string", "enum": list(RANGES)}, "How far back to look."),
        query("from", integer(0, 2**33 - 1), "Start (epoch seconds)."),
        query("to", integer(0, 2**33 - 1), "End (epoch seconds)."),
        query("q", text(200), "Text in the path (fields) or error message; scans."),
    ]
    row = EVENT_ROW
    text_answer = {"type": "string"}
    export_op = operation(
        "The filtered events, oldest first, streamed as CSV or JSON lines.",
        text_answer,
        params=[*filter_params, query("format", {"type": "string", "enum": ["csv", "jsonl"]})],
        error_codes=("400",),
    )
    export_op["responses"]["200"]["content"] = {
        mime.split(";")[0]: {"schema": text_answer} for mime in EXPORT_FORMATS.values()
    }
    return {
        "/api/explorer/events": {
            "get": operation(
                "A page of stored events under filters, newest first; 'next' is the cursor of "
                "the following page ('complete' false: the scan budget ran out first).",
                obj(
                    {
                        "rows": array(row),
                        "next": INTEGER_OR_NULL,
                        "complete": BOOLEAN,
                        "examined": INTEGER,
                        "took_ms": NUMBER,
                    }
                ),
                params=[
                    *filter_params,
                    query("cursor", integer(0, 2**62 - 1), "The 'next' of the previous page."),
                    query("order", {"type": "string", "enum": ["newest", "oldest"]}, "Order."),
                    query("limit", integer(1, 500), "Rows per page (1-500, default 50)."),
                ],
                error_codes=("400",),
            )
        },
        "/api/explorer/events/{event_id}": {
            "get": operation(
                "One stored event whole: fields, tags, tracked values, traceback.",
                row,
                params=[path_param("event_id", INTEGER, "The event's id.")],
                error_codes=("404",),
            )
        },
        "/api/explorer/export": {"get": export_op},
        "/api/filters": {
            "get": operation(
                "The versions and hosts the filters offer, first seen first.",
                obj({"versions": array(STRING), "hosts": array(STRING)}),
            )
        },
        "/api/names/{kind}/{name}/hosts": {
            "get": operation(
                "Per-host counts, errors and percentiles of one name (from origin rollups).",
                obj(
                    {
                        "rows": array(
                            obj(
                                {
                                    "key": STRING,
                                    "count": INTEGER,
                                    "errors": INTEGER,
                                    "p50_ms": {"type": ["number", "null"]},
                                    "p90_ms": {"type": ["number", "null"]},
                                    "p99_ms": {"type": ["number", "null"]},
                                }
                            )
                        ),
                        "complete": BOOLEAN,
                    }
                ),
                params=[
                    *NAME_PARAMS,
                    query("range", {"type": "string", "enum": list(RANGES)}, "How far back."),
                    query("version", text(64, min_length=0), "Only this version ('' for none)."),
                ],
                error_codes=("404",),
            )
        },
    }
