"""The OpenAPI paths of the Errors API (:mod:`lookout.dashboard.error_views`), exact to what
:mod:`lookout.dashboard.error_data` answers (schemathesis checks every answer)."""

from __future__ import annotations

from typing import Any

from lookout.dashboard.error_data import SORTS
from lookout.dashboard.explorer_views import EVENT_ROW
from lookout.dashboard.spec import (
    BOOLEAN,
    INTEGER,
    RANGES,
    STRING,
    array,
    integer,
    nullable,
    obj,
    operation,
    path_param,
    query,
    text,
)
from lookout.store.error_groups import STATUSES

STATUS = {"type": "string", "enum": list(STATUSES)}
RANGE_PARAMS = [
    query("range", {"type": "string", "enum": RANGES}, "How far back to look (default 24h)."),
    query("from", integer(0, 2**33), "Start of a custom range (epoch seconds)."),
    query("to", integer(0, 2**33), "End of a custom range (epoch seconds; default now)."),
    query("version", text(64, min_length=0), "Only this app version ('' is none set)."),
    query("host", text(255), "Only this host."),
]
GROUP_ID = path_param("group_id", INTEGER, "The error group's id.")
WHERE = array(obj({"kind": STRING, "name": STRING, "count": INTEGER}))
GROUP = {
    "id": INTEGER,
    "error_type": STRING,
    "message": STRING,
    "culprit": STRING,
    "first_seen_ns": INTEGER,
    "last_seen_ns": INTEGER,
    "total": INTEGER,
    "first_version": STRING,
    "last_version": STRING,
    "status": STATUS,
    "regression": BOOLEAN,
    "count": INTEGER,
    "users": INTEGER,
    "where": WHERE,
}


def openapi_paths() -> dict[str, Any]:
    listed = obj(
        {
            "from": INTEGER,
            "to": INTEGER,
            "spark_from": INTEGER,
            "spark_step_s": INTEGER,
            "spark_points": INTEGER,
            "groups": array(obj({**GROUP, "spark": array(INTEGER)})),
        }
    )
    line = obj({"text": STRING, "app": BOOLEAN, "frame": {"type": ["boolean", "null"]}})
    detail = obj(
        {
            **GROUP,
            "from": INTEGER,
            "to": INTEGER,
            "over_time": array(obj({"t": INTEGER, "count": INTEGER})),
            "per_version": array(obj({"version": STRING, "count": INTEGER})),
            "per_host": array(obj({"host": STRING, "count": INTEGER})),
            "latest": nullable(EVENT_ROW),
            "traceback": array(line),
            "occurrences": array(EVENT_ROW),
        }
    )
    return {
        "/api/errors": {
            "get": operation(
                "Error groups that occurred in the range (count in the range to the hour, "
                "users affected, where, first/last seen, introduced-in version, sparkline).",
                listed,
                params=[
                    *RANGE_PARAMS,
                    query("name", text(255), "Only groups occurring in this name."),
                    query("status", STATUS, "Only groups with this status."),
                    query("sort", {"type": "string", "enum": list(SORTS)}, "Order (count)."),
                ],
                error_codes=("400",),
            )
        },
        "/api/errors/{group_id}": {
            "get": operation(
                "One error group: its latest occurrence whole (traceback lines marked as the "
                "application's), occurrences over time, per version and host, the newest "
                "occurrences.",
                detail,
                params=[GROUP_ID, *RANGE_PARAMS],
                error_codes=("404",),
            )
        },
        "/api/errors/{group_id}/status": {
            "post": operation(
                "Mark a group unresolved, resolved or ignored (admin); clears its regression "
                "flag. A resolved group that occurs again is reopened as a regression.",
                obj({"ok": BOOLEAN, "id": INTEGER, "status": STATUS}),
                params=[GROUP_ID],
                body=obj({"status": STATUS}),
                error_codes=("403", "404"),
            )
        },
    }
