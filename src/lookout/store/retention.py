"""Deleting old data: raw events and minute rollups after ``retention``, hour rollups later.

Deletes run in chunks of a few thousand rows, each in its own short transaction, so pruning a
large backlog never holds the write lock long enough to stall the writers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Table, delete, select

from lookout.store.engine import SqlStore
from lookout.store.schema import events, rollups_hour, rollups_minute

PRUNE_CHUNK = 5000
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PruneResult:
    events: int
    minute_rollups: int
    hour_rollups: int


def prune(
    store: SqlStore,
    *,
    older_than_s: float,
    rollups_older_than_s: float | None = None,
    now_ns: int | None = None,
) -> PruneResult:
    """Delete raw events and minute rollups older than ``older_than_s`` seconds, and hour
    rollups older than ``rollups_older_than_s`` (kept when None)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    cutoff_ns = now_ns - int(older_than_s * NS)
    removed_events = _delete_chunked(store, events, events.c.start_ns, cutoff_ns, events.c.id)
    removed_minutes = _delete_rollups(store, rollups_minute, cutoff_ns // NS)
    removed_hours = 0
    if rollups_older_than_s is not None:
        removed_hours = _delete_rollups(
            store, rollups_hour, (now_ns - int(rollups_older_than_s * NS)) // NS
        )
    return PruneResult(removed_events, removed_minutes, removed_hours)


def _delete_chunked(store: SqlStore, table: Table, column: object, cutoff: int, id_column: object) -> int:
    removed = 0
    while True:
        with store.engine.begin() as connection:
            ids = connection.execute(
                select(id_column).where(column < cutoff).limit(PRUNE_CHUNK)  # type: ignore[arg-type,operator]
            ).scalars().all()
            if not ids:
                return removed
            connection.execute(delete(table).where(id_column.in_(ids)))  # type: ignore[attr-defined]
        removed += len(ids)


def _delete_rollups(store: SqlStore, table: Table, cutoff_s: int) -> int:
    with store.engine.begin() as connection:
        return connection.execute(delete(table).where(table.c.bucket_start < cutoff_s)).rowcount
