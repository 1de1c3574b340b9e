"""Reading events back from the store in the order they were written, for processes that follow
a central store (``lookout watch`` evaluating alert rules over every app instance's events).

The cursor is the events table's primary key: rows are numbered as they are inserted, so a
reader that remembers the last id it saw gets each new row once, with an index lookup.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from lookout.events import ERROR, OK, Event
from lookout.store import schema
from lookout.store.engine import SqlStore


def _query() -> sa.Select[Any]:
    e, n, s = schema.events, schema.names, schema.sources
    return sa.select(
        e.c.id,
        n.c.kind,
        n.c.name,
        e.c.start_ns,
        e.c.duration_ns,
        e.c.is_error,
        e.c.status,
        s.c.host,
        s.c.pid,
        s.c.app_version,
        e.c.request_id,
        e.c.group_key,
        e.c.client_ip,
        e.c.tags,
        e.c.fields,
        e.c.error_type,
        e.c.error_message,
        e.c.traceback,
    ).select_from(e.join(n, n.c.id == e.c.name_id).join(s, s.c.id == e.c.source_id))


def _event(row: Sequence[Any]) -> Event:
    (
        _,
        kind,
        name,
        start_ns,
        duration_ns,
        is_error,
        status,
        host,
        pid,
        version,
        request_id,
        group,
        client_ip,
        tags,
        fields,
        error_type,
        error_message,
        tb,
    ) = row
    return Event(
        kind=kind,
        name=name,
        start_ns=int(start_ns),
        duration_ns=int(duration_ns),
        outcome=ERROR if is_error else OK,
        status=status,
        host=host,
        pid=pid,
        app_version=version or None,
        request_id=request_id,
        group=group,
        client_ip=client_ip,
        tags=json.loads(tags) if tags else {},
        fields=json.loads(fields) if fields else {},
        error_type=error_type,
        error_message=error_message,
        traceback=tb,
    )


def last_event_id(store: SqlStore) -> int:
    """The newest row's id (0 for an empty store): where a new follower starts."""
    with store.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.max(schema.events.c.id))).scalar() or 0)


def first_event_id_since(store: SqlStore, start_ns: int) -> int | None:
    """The smallest id among events that started at or after ``start_ns`` (None: none did).

    Asked per name, so that each question walks the ``(name_id, start_ns)`` index instead of
    scanning the table for a time.
    """
    e = schema.events
    with store.engine.connect() as connection:
        name_ids = connection.execute(sa.select(schema.names.c.id)).scalars().all()
        first = sa.select(sa.func.min(e.c.id))
        firsts = [
            connection.execute(
                first.where(e.c.name_id == name_id, e.c.start_ns >= start_ns)
            ).scalar()
            for name_id in name_ids
        ]
    found = [int(first) for first in firsts if first is not None]
    return min(found) if found else None


def events_after(store: SqlStore, after_id: int, limit: int = 5000) -> tuple[list[Event], int]:
    """Up to ``limit`` events written after ``after_id``, oldest first, and the new cursor."""
    query = _query().where(schema.events.c.id > after_id).order_by(schema.events.c.id).limit(limit)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [_event(row) for row in rows], (int(rows[-1][0]) if rows else after_id)


def latest_runs(store: SqlStore) -> list[Event]:
    """The most recent run of every supervised job (what heartbeats are checked against)."""
    if store.backend == "clickhouse":
        from lookout.store.clickhouse.queries import latest_of_kind

        # the same columns as _query() after its id
        return [_event((0, *row)) for row in latest_of_kind(store, "run")]  # type: ignore[arg-type]
    e, n = schema.events, schema.names
    newest = (
        sa.select(sa.func.max(e.c.id).label("id"))
        .select_from(e.join(n, n.c.id == e.c.name_id))
        .where(n.c.kind == "run")
        .group_by(e.c.name_id)
        .subquery()
    )
    with store.engine.connect() as connection:
        rows = connection.execute(_query().where(e.c.id.in_(sa.select(newest.c.id)))).all()
    return [_event(row) for row in rows]
