"""Deleting old data: raw events and minute rollups after ``retention``, hour rollups later.

Error groups follow the hour rollups: their hourly buckets go with them, and a group that has
not occurred since (with its users) goes too. A group that still occurs keeps its row, status
and first-seen time whatever the retention, so a resolved bug that comes back is still known
as a regression, not a new group.

Deletes run in chunks of a few thousand rows, each in its own short transaction, so pruning a
large backlog never holds the write lock long enough to stall the writers.
"""

from __future__ import annotations

import time

from sqlalchemy import Table, delete, func, select

from lookout.store.engine import SqlStore
from lookout.store.prune_result import PruneResult
from lookout.store.schema import (
    error_buckets,
    error_groups,
    error_users,
    events,
    names,
    origin_rollups_hour,
    origin_rollups_minute,
    rollup_deltas,
    rollups_hour,
    rollups_minute,
)

__all__ = ["PruneResult", "prune"]
PRUNE_CHUNK = 5000
NS = 1_000_000_000


def prune(
    store: SqlStore,
    *,
    older_than_s: float,
    rollups_older_than_s: float | None = None,
    now_ns: int | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Delete raw events and minute rollups older than ``older_than_s`` seconds, and hour
    rollups older than ``rollups_older_than_s`` (kept when None).

    ``dry_run`` counts what would be deleted and deletes nothing, so a retention setting can
    be tried on a production store before it removes anything.
    """
    if store.backend == "clickhouse":  # drops whole partitions instead
        from lookout.store.clickhouse import retention

        return retention.prune(
            store,  # type: ignore[arg-type]
            older_than_s=older_than_s,
            rollups_older_than_s=rollups_older_than_s,
            now_ns=now_ns,
            dry_run=dry_run,
        )
    now_ns = time.time_ns() if now_ns is None else now_ns
    cutoff_ns = now_ns - int(older_than_s * NS)
    hours_cutoff_s = (
        None if rollups_older_than_s is None else (now_ns - int(rollups_older_than_s * NS)) // NS
    )
    if dry_run:
        return _count(store, cutoff_ns, hours_cutoff_s)
    removed_events = sum(_delete_events(store, name_id, cutoff_ns) for name_id in _name_ids(store))
    removed_minutes = _delete_rollups(store, rollups_minute, cutoff_ns // NS)
    _delete_rollups(store, origin_rollups_minute, cutoff_ns // NS)  # kept alike, not counted
    _delete_deltas(store, 60, cutoff_ns // NS)  # pending ones (store/compaction.py), too
    removed_hours = 0
    if hours_cutoff_s is not None:
        removed_hours = _delete_rollups(store, rollups_hour, hours_cutoff_s)
        _delete_rollups(store, origin_rollups_hour, hours_cutoff_s)
        _delete_deltas(store, 3600, hours_cutoff_s)
        _delete_rollups(store, error_buckets, hours_cutoff_s)
        _delete_silent_groups(store, hours_cutoff_s * NS)
    return PruneResult(removed_events, removed_minutes, removed_hours)


def _count(store: SqlStore, cutoff_ns: int, hours_cutoff_s: int | None) -> PruneResult:
    """What :func:`prune` would delete, counted per name through the (name_id, start_ns)
    index like the deletes themselves."""
    with store.read_engine.connect() as connection:
        old_events = sum(
            int(
                connection.execute(
                    select(func.count())
                    .select_from(events)
                    .where(events.c.name_id == name_id, events.c.start_ns < cutoff_ns)
                ).scalar_one()
            )
            for name_id in _name_ids(store)
        )

        def old_rollups(table: Table, cutoff_s: int | None) -> int:
            if cutoff_s is None:
                return 0
            query = select(func.count()).select_from(table).where(table.c.bucket_start < cutoff_s)
            return int(connection.execute(query).scalar_one())

        return PruneResult(
            old_events,
            old_rollups(rollups_minute, cutoff_ns // NS),
            old_rollups(rollups_hour, hours_cutoff_s),
        )


def _name_ids(store: SqlStore) -> list[int]:
    with store.read_engine.connect() as connection:
        return list(connection.execute(select(names.c.id)).scalars())


def _delete_events(store: SqlStore, name_id: int, cutoff_ns: int) -> int:
    """Delete one name's old events in chunks, each its own short transaction.

    Per name so that every step walks the (name_id, start_ns) index.
    """
    removed = 0
    while True:
        with store.engine.begin() as connection:
            ids = (
                connection.execute(
                    select(events.c.id)
                    .where(events.c.name_id == name_id, events.c.start_ns < cutoff_ns)
                    .limit(PRUNE_CHUNK)
                )
                .scalars()
                .all()
            )
            if not ids:
                return removed
            connection.execute(delete(events).where(events.c.id.in_(ids)))
        removed += len(ids)


def _delete_rollups(store: SqlStore, table: Table, cutoff_s: int) -> int:
    with store.engine.begin() as connection:
        return connection.execute(delete(table).where(table.c.bucket_start < cutoff_s)).rowcount


def _delete_deltas(store: SqlStore, grain: int, cutoff_s: int) -> None:
    """Pending deltas of old buckets: a compactor that read them already writes their rollup
    rows again, which the next prune deletes."""
    if store.backend == "sqlite":
        return  # never has deltas
    c = rollup_deltas.c
    with store.engine.begin() as connection:
        connection.execute(delete(rollup_deltas).where(c.grain == grain, c.bucket_start < cutoff_s))


def _delete_silent_groups(store: SqlStore, cutoff_ns: int) -> None:
    """Delete the error groups last seen before ``cutoff_ns``, with their users. A writer
    that still had one cached registers it again (``GroupGone`` in store/error_groups.py)."""
    while True:
        with store.engine.begin() as connection:
            ids = (
                connection.execute(
                    select(error_groups.c.id)
                    .where(error_groups.c.last_ns < cutoff_ns)
                    .limit(PRUNE_CHUNK)
                )
                .scalars()
                .all()
            )
            if not ids:
                return
            connection.execute(delete(error_users).where(error_users.c.group_id.in_(ids)))
            connection.execute(delete(error_groups).where(error_groups.c.id.in_(ids)))
