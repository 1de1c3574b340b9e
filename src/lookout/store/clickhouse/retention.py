"""Retention on ClickHouse: whole partitions dropped, never rows deleted.

Raw events and minute rollups are partitioned by UTC day, hour rollups by month
(:mod:`.schema`). A partition goes when all of it is older than the cutoff, so up to a day
(a month for hour rollups) more than ``retention`` is kept: dropping a partition is a file
operation whatever its size, where deleting rows (the SQL store: 50,000 rows/s at fleet scale,
issue 23) is work proportional to the data. 18.16 has no TTL clause; this runs on every version.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from lookout.store.clickhouse import cluster, schema
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.prune_result import PruneResult

NS = 1_000_000_000


def prune(
    store: ClickHouseStore,
    *,
    older_than_s: float,
    rollups_older_than_s: float | None = None,
    now_ns: int | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Drop the day partitions of raw events and minute rollups that end before
    ``older_than_s`` ago, and the month partitions of hour rollups that end before
    ``rollups_older_than_s`` ago; the counts are the rows in the parts dropped."""
    if store.target.cluster and not cluster.has_zookeeper(store):  # each server in turn
        return _prune_each_shard(
            store,
            older_than_s=older_than_s,
            rollups_older_than_s=rollups_older_than_s,
            now_ns=now_ns,
            dry_run=dry_run,
        )
    now_s = (time.time_ns() if now_ns is None else now_ns) // NS
    day_cutoff = dt.datetime.fromtimestamp(now_s - older_than_s, dt.timezone.utc).date()
    removed = [
        _drop(store, table, lambda day: _day_end(day) <= day_cutoff, dry_run)
        for table in (schema.EVENTS, schema.ROLLUPS[60], *schema.DAY_TABLES)
    ]  # the dashboard's day tables (after the first two) go alike, not counted
    hours = 0
    if rollups_older_than_s is not None:
        month_cutoff = dt.datetime.fromtimestamp(
            now_s - rollups_older_than_s, dt.timezone.utc
        ).date()
        expired = lambda month: _month_end(month) <= month_cutoff  # noqa: E731
        hours = _drop(store, schema.ROLLUPS[3600], expired, dry_run)
        for table in schema.MONTH_TABLES:  # the dashboard's hour tables go alike, not counted
            _drop(store, table, expired, dry_run)
    return PruneResult(events=removed[0], minute_rollups=removed[1], hour_rollups=hours)


def _day_end(partition: str) -> dt.date:
    return dt.date.fromisoformat(partition) + dt.timedelta(days=1)


def _month_end(partition: str) -> dt.date:
    year, month = int(partition[:4]), int(partition[4:6])
    return dt.date(year + month // 12, month % 12 + 1, 1)


def partitions(store: ClickHouseStore, table: str) -> dict[str, int]:
    """A table's partitions (as ``ALTER TABLE ... DROP PARTITION`` names them) and rows (on
    a cluster: of the local tables, one replica of every shard)."""
    parts, database = cluster.parts(store) if store.target.cluster else ("system.parts", None)
    rows = store.execute(
        f"SELECT partition, sum(rows) FROM {parts} WHERE database = %(db)s "
        "AND table = %(table)s AND active GROUP BY partition",
        {"db": database or store.database, "table": table},
    )
    return {str(partition).strip("'"): int(count) for partition, count in rows}


def _drop(store: ClickHouseStore, table: str, expired: Callable[[str], bool], dry_run: bool) -> int:
    removed = 0
    for partition, count in sorted(partitions(store, table).items()):
        if not expired(partition):
            continue
        removed += count
        if not dry_run:
            literal = f"'{partition}'" if "-" in partition else partition
            target = cluster.on_every_shard(store, table) if store.target.cluster else None
            store.execute(f"ALTER TABLE {target or store.table(table)} DROP PARTITION {literal}")
    return removed


def _prune_each_shard(store: ClickHouseStore, **options: Any) -> PruneResult:
    """A cluster without ZooKeeper (no distributed DDL): :func:`prune` on every shard's local
    tables, each through a connection of its own; the counts added up."""
    results = []
    for node in cluster.shard_leaders(store):
        with cluster.node_store(store, node) as server:
            results.append(prune(server, **options))
    return PruneResult(
        events=sum(r.events for r in results),
        minute_rollups=sum(r.minute_rollups for r in results),
        hour_rollups=sum(r.hour_rollups for r in results),
    )
