"""The request explorer's reads: pages of stored events under filters, one event whole, and
the filtered events streamed for export.

Pages walk the events table backwards (or forwards) by its primary key, which follows
insertion and so time, in windows of ``WINDOW_IDS`` ids: each statement examines at most one
window of rows whatever the filters, so a page costs the same on 10 million events as on ten
thousand, and no index beyond the key is needed (each index costs every insert). A page
stops when it is full or after ``SCAN_BUDGET`` ids examined; its ``next`` cursor then says where
to go on, and ``complete`` is false (a rare filter, such as a text in error messages, may need
several requests to fill a page). A time range becomes an id range first by a binary search of
the key (a few dozen primary-key reads).

On a ClickHouse store the same answers come from :mod:`lookout.store.clickhouse.explorer`
(windows of hours planned from the hour rollups; ids made of the start time), the filters
translated by :mod:`lookout.dashboard.explorer_clickhouse`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from lookout.dashboard import explorer_clickhouse
from lookout.dashboard.explorer_filters import Filters
from lookout.store import export as event_export
from lookout.store import schema
from lookout.store.clickhouse import explorer as clickhouse_events
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.engine import SqlStore
from lookout.store.export import event_columns, id_bounds, joined

NS = 1_000_000_000
WINDOW_IDS = 20_000
SCAN_BUDGET = 200_000
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def _conditions(connection: sa.Connection, filters: Filters) -> list[Any] | None:
    """SQL conditions of the filters (None: nothing can match)."""
    e, n, s = schema.events, schema.names, schema.sources
    found: list[Any] = []
    if filters.kind is not None or filters.name is not None:
        query = sa.select(n.c.id)
        if filters.kind is not None:
            query = query.where(n.c.kind == filters.kind)
        if filters.name is not None:
            query = query.where(n.c.name == filters.name)
        ids = list(connection.execute(query).scalars())
        if not ids:
            return None
        found.append(e.c.name_id.in_(ids))
    if filters.version is not None or filters.host is not None:
        query = sa.select(s.c.id)
        if filters.version is not None:
            query = query.where(s.c.app_version == filters.version)
        if filters.host is not None:
            query = query.where(s.c.host == filters.host)
        ids = list(connection.execute(query).scalars())
        if not ids:
            return None
        found.append(e.c.source_id.in_(ids))
    if filters.status_class is not None:
        low = int(filters.status_class[0]) * 100
        found.append(e.c.status.between(low, low + 99))
    if filters.outcome is not None:
        found.append(e.c.is_error == (1 if filters.outcome == "error" else 0))
    if filters.user is not None:
        found.append(e.c.group_key == filters.user)
    if filters.request_id is not None:
        found.append(e.c.request_id == filters.request_id)
    if filters.min_ms is not None:
        found.append(e.c.duration_ns >= int(filters.min_ms * 1e6))
    if filters.max_ms is not None:
        found.append(e.c.duration_ns <= int(filters.max_ms * 1e6))
    if filters.from_s is not None:
        found.append(e.c.start_ns >= filters.from_s * NS)
    if filters.to_s is not None:
        found.append(e.c.start_ns < filters.to_s * NS)
    if filters.text:
        pattern = (
            "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        found.append(
            sa.or_(
                e.c.fields.like(pattern, escape="\\"),
                e.c.error_message.like(pattern, escape="\\"),
            )
        )
    return found


def _id_bounds(connection: sa.Connection, filters: Filters) -> tuple[int, int] | None:
    return id_bounds(
        connection,
        None if filters.from_s is None else filters.from_s * NS,
        None if filters.to_s is None else filters.to_s * NS,
    )


def page(
    store: SqlStore,
    filters: Filters,
    *,
    cursor: int | None = None,
    oldest_first: bool = False,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of events, newest first (or oldest), starting after ``cursor`` (an id)."""
    if isinstance(store, ClickHouseStore):
        found, cursor_next, complete, scanned = clickhouse_events.page(
            store,
            explorer_clickhouse.where(filters),
            cursor=cursor,
            oldest_first=oldest_first,
            limit=limit,
        )
        return {
            "rows": [_row(row) for row in found],
            "next": cursor_next,
            "complete": complete,
            "examined": scanned,
        }
    e = schema.events
    rows: list[dict[str, Any]] = []
    examined = 0
    with store.read_engine.connect() as connection:
        conditions = _conditions(connection, filters)
        bounds = None if conditions is None else _id_bounds(connection, filters)
        if conditions is None or bounds is None:
            return {"rows": [], "next": None, "complete": True, "examined": 0}
        low, high = bounds
        if cursor is not None:
            if oldest_first:
                low = max(low, cursor + 1)
            else:
                high = min(high, cursor - 1)
        base = sa.select(*event_columns()).select_from(joined())
        position = low if oldest_first else high
        while len(rows) < limit and low <= high and examined < SCAN_BUDGET:
            if oldest_first:
                window = (position, min(high, position + WINDOW_IDS - 1))
            else:
                window = (max(low, position - WINDOW_IDS + 1), position)
            order = e.c.id.asc() if oldest_first else e.c.id.desc()
            query = (
                base.where(e.c.id.between(*window), *conditions)
                .order_by(order)
                .limit(limit - len(rows))
            )
            rows += [_row(row) for row in connection.execute(query)]
            examined += window[1] - window[0] + 1
            if oldest_first:
                position = window[1] + 1
                if position > high:
                    break
            else:
                position = window[0] - 1
                if position < low:
                    break
        full = len(rows) >= limit
        ended = position > high if oldest_first else position < low
    if full:
        following: int | None = rows[-1]["id"]
    elif ended:
        following = None
    else:  # out of budget: go on from where the scan stopped
        following = position - 1 if oldest_first else position + 1
    return {
        "rows": rows,
        "next": following,
        "complete": full or ended,
        "examined": examined,
    }


def _row(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "start_ns": int(row.start_ns),
        "kind": row.kind,
        "name": row.name,
        "duration_ms": round(row.duration_ns / 1e6, 3),
        "outcome": "error" if row.is_error else "ok",
        "status": row.status,
        "host": row.host,
        "version": row.app_version,
        "request_id": row.request_id,
        "user": row.group_key,
        "client_ip": row.client_ip,
        "path": _path(row.fields),
        "error_type": row.error_type,
        "error_message": (row.error_message or "")[:300] or None,
    }


#: An event's row as the explorer lists it (the Errors page lists a group's occurrences so).
summary_row = _row


def _path(fields: str | None) -> str | None:
    if not fields or '"path"' not in fields:
        return None
    found = json.loads(fields).get("path")
    return found if isinstance(found, str) else None


def event(store: SqlStore, event_id: int) -> dict[str, Any] | None:
    """One event whole: its row, fields, tags and traceback; None when there is none."""
    if isinstance(store, ClickHouseStore):
        stored = clickhouse_events.event(store, event_id)
        return None if stored is None else _whole(*stored)
    e, s = schema.events, schema.sources
    query = (
        sa.select(*event_columns(), e.c.traceback, s.c.pid)
        .select_from(joined())
        .where(e.c.id == event_id)
    )
    with store.read_engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return _whole(row, row.traceback, row.pid)


def _whole(row: Any, traceback: str | None, pid: int) -> dict[str, Any]:
    found = _row(row)
    found["error_message"] = row.error_message
    fields = json.loads(row.fields) if row.fields else {}
    found["fields"] = fields
    found["tags"] = json.loads(row.tags) if row.tags else {}
    found["traceback"] = traceback
    found["pid"] = pid
    found["profile"] = fields.get("profile")
    return found


def export(store: SqlStore, filters: Filters, *, as_csv: bool) -> Iterator[str]:
    """Every filtered event, oldest first, as CSV (a header first) or JSON lines, streamed by
    the store layer a window of ids at a time: memory stays bounded whatever the number of
    rows (the same stream as ``lookout export``)."""
    return event_export.stream(
        store,
        lambda connection: _conditions(connection, filters),
        from_ns=None if filters.from_s is None else filters.from_s * NS,
        to_ns=None if filters.to_s is None else filters.to_s * NS,
        as_csv=as_csv,
        clickhouse=explorer_clickhouse.where(filters)
        if isinstance(store, ClickHouseStore)
        else None,
    )
