"""The Errors page and its API: error groups like an error tracker's (docs/errors.md).

``/errors`` lists the groups that occurred in a range, ``/errors/<id>`` shows one; their data
comes from ``api/errors`` and ``api/errors/<id>`` (reads in :mod:`lookout.dashboard.error_data`,
or :mod:`lookout.dashboard.error_clickhouse` on a ClickHouse store, neither of which scans raw
events for the list). Admins set a group's status with a POST to
``api/errors/<id>/status`` (CSRF-checked like every change, see blueprint.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from lookout.dashboard import error_clickhouse, error_data
from lookout.dashboard.api import ApiError, json_body, params, parse_range
from lookout.dashboard.context import admin_only, current
from lookout.dashboard.report_views import parse_epoch, window_of
from lookout.store.clickhouse import errors as clickhouse_errors
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.error_groups import STATUSES, set_status

DAY = 86400


def _text(limit: int, *, empty: bool = False) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if (not value and not empty) or len(value) > limit or "\x00" in value:
            raise ValueError(value)
        return value

    return parse


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError(value)
        return value

    return parse


RANGE_PARAMS: dict[str, Callable[[str], Any]] = {
    "range": parse_range,
    "from": parse_epoch,
    "to": parse_epoch,
    "version": _text(64, empty=True),
    "host": _text(255),
}
LIST_PARAMS: dict[str, Callable[[str], Any]] = {
    **RANGE_PARAMS,
    "name": _text(255),
    "status": _choice(STATUSES),
    "sort": _choice(error_data.SORTS),
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/errors", "errors_page", errors_page, methods=["GET"])
    blueprint.add_url_rule(
        "/errors/<int:group_id>", "error_group_page", error_group_page, methods=["GET"]
    )
    blueprint.add_url_rule("/api/errors", "api_errors", api_errors, methods=["GET"])
    blueprint.add_url_rule(
        "/api/errors/<int:group_id>", "api_error_group", api_error_group, methods=["GET"]
    )
    blueprint.add_url_rule(
        "/api/errors/<int:group_id>/status",
        "api_error_status",
        api_error_status,
        methods=["POST"],
    )


def errors_page() -> str:
    return current().page("errors.html", page_name="errors")


def error_group_page(group_id: int) -> str:
    return current().page("error_group.html", page_name="errors", group_id=group_id)


def _window(args: dict[str, Any]) -> tuple[int, int]:
    window = window_of(args, default_s=DAY)
    if window.end_s - window.start_s > 400 * DAY:
        raise ApiError(400, "a range may span 400 days at most")
    return window.start_s, window.end_s


def _filters(args: dict[str, Any]) -> error_data.Filters:
    return error_data.Filters(
        version=args.get("version"),
        host=args.get("host"),
        name=args.get("name"),
        status=args.get("status"),
    )


def api_errors() -> Response:
    args = params(LIST_PARAMS)
    start, end = _window(args)
    store, filters, sort = current().store(), _filters(args), args.get("sort", "count")
    if isinstance(store, ClickHouseStore):
        found = error_clickhouse.list_groups(store, start, end, filters=filters, sort=sort)
    else:
        found = error_data.list_groups(store, start, end, filters=filters, sort=sort)
    return jsonify(found)


def api_error_group(group_id: int) -> Response:
    args = params(RANGE_PARAMS)
    start, end = _window(args)
    store = current().store()
    if isinstance(store, ClickHouseStore):
        found = error_clickhouse.group_detail(store, group_id, start, end, filters=_filters(args))
    else:
        found = error_data.group_detail(store, group_id, start, end, filters=_filters(args))
    if found is None:
        raise ApiError(404, f"no error group {group_id}")
    return jsonify(found)


def api_error_status(group_id: int) -> Response:
    admin_only()
    body = json_body({"status": str})
    if body["status"] not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
    store = current().store()
    if isinstance(store, ClickHouseStore):
        done = clickhouse_errors.set_status(store, group_id, body["status"])
    else:
        done = set_status(store.engine, group_id, body["status"])
    if not done:
        raise ApiError(404, f"no error group {group_id}")
    return jsonify({"ok": True, "id": group_id, "status": body["status"]})
