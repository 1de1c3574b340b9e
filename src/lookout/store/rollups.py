"""Per-name, per-minute and per-hour aggregates, merged into the store with each batch.

The writer aggregates a batch in memory first (one delta per name and bucket), then merges the
deltas into the rollup rows inside the same transaction that inserts the raw events, so rollups
and events never disagree. Merging is read-modify-write because the latency sketch is JSON:
placeholder rows are inserted if missing (ignoring conflicts), the rows are locked
(``SELECT ... FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock) in key
order so concurrent writers cannot deadlock, and updated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, tuple_
from sqlalchemy.sql.dml import Insert

from lookout.events import ERROR, Event
from lookout.store.sketch import LatencySketch

#: Event kinds whose duration is worth aggregating.
ROLLUP_KINDS = frozenset({"call", "request", "run"})

RollupKey = tuple[str, str, int]


@dataclass(slots=True)
class RollupDelta:
    count: int = 0
    errors: int = 0
    total_ns: int = 0
    sumsq_ms2: float = 0.0
    min_ns: int | None = None
    max_ns: int | None = None
    last_ns: int = 0
    sketch: LatencySketch = field(default_factory=LatencySketch)

    def add(self, duration_ns: int, start_ns: int, is_error: bool) -> None:
        self.count += 1
        self.errors += is_error
        self.total_ns += duration_ns
        duration_ms = duration_ns / 1e6
        self.sumsq_ms2 += duration_ms * duration_ms
        if self.min_ns is None or duration_ns < self.min_ns:
            self.min_ns = duration_ns
        if self.max_ns is None or duration_ns > self.max_ns:
            self.max_ns = duration_ns
        if start_ns > self.last_ns:
            self.last_ns = start_ns
        self.sketch.add(duration_ns)

    def merge(self, other: RollupDelta) -> None:
        self.count += other.count
        self.errors += other.errors
        self.total_ns += other.total_ns
        self.sumsq_ms2 += other.sumsq_ms2
        if other.min_ns is not None and (self.min_ns is None or other.min_ns < self.min_ns):
            self.min_ns = other.min_ns
        if other.max_ns is not None and (self.max_ns is None or other.max_ns > self.max_ns):
            self.max_ns = other.max_ns
        self.last_ns = max(self.last_ns, other.last_ns)
        self.sketch.merge(other.sketch)

    @classmethod
    def from_row(cls, row: Any) -> RollupDelta:
        return cls(
            count=row.count,
            errors=row.errors,
            total_ns=row.total_ns,
            sumsq_ms2=row.sumsq_ms2,
            min_ns=row.min_ns,
            max_ns=row.max_ns,
            last_ns=row.last_ns,
            sketch=LatencySketch.from_json(row.sketch),
        )


def aggregate(events: Iterable[Event], bucket_seconds: int = 60) -> dict[RollupKey, RollupDelta]:
    """Aggregate the events worth rolling up into one delta per (kind, name, bucket)."""
    bucket_ns = bucket_seconds * 1_000_000_000
    deltas: dict[RollupKey, RollupDelta] = {}
    for event in events:
        if event.kind not in ROLLUP_KINDS:
            continue
        key = (event.kind, event.name, event.start_ns // bucket_ns * bucket_seconds)
        delta = deltas.get(key)
        if delta is None:
            delta = deltas[key] = RollupDelta()
        delta.add(event.duration_ns, event.start_ns, event.outcome == ERROR)
    return deltas


def coarsen(deltas: dict[RollupKey, RollupDelta], bucket_seconds: int) -> dict[RollupKey, RollupDelta]:
    """Merge fine-grained deltas (e.g. minutes) into coarser buckets (e.g. hours)."""
    coarse: dict[RollupKey, RollupDelta] = {}
    for (kind, name, start), delta in deltas.items():
        key = (kind, name, start // bucket_seconds * bucket_seconds)
        target = coarse.get(key)
        if target is None:
            target = coarse[key] = RollupDelta()
        target.merge(delta)
    return coarse


def _insert_ignoring_conflicts(connection: Connection, table: Table) -> Insert:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return table.insert().prefix_with("IGNORE")


def merge_into(connection: Connection, table: Table, deltas: dict[RollupKey, RollupDelta]) -> None:
    """Merge ``deltas`` into ``table`` within the caller's transaction."""
    if not deltas:
        return
    keys: Sequence[RollupKey] = sorted(deltas)
    placeholders = [
        {"kind": kind, "name": name, "bucket_start": start, "count": 0, "errors": 0,
         "total_ns": 0, "sumsq_ms2": 0.0, "min_ns": None, "max_ns": None, "last_ns": 0,
         "sketch": "{}"}
        for kind, name, start in keys
    ]
    connection.execute(_insert_ignoring_conflicts(connection, table), placeholders)
    key_columns = tuple_(table.c.kind, table.c.name, table.c.bucket_start)
    current = connection.execute(
        select(table)
        .where(key_columns.in_(keys))
        .order_by(table.c.kind, table.c.name, table.c.bucket_start)
        .with_for_update()
    ).all()
    updates = []
    for row in current:
        merged = RollupDelta.from_row(row)
        merged.merge(deltas[(row.kind, row.name, row.bucket_start)])
        updates.append(
            {"k_kind": row.kind, "k_name": row.name, "k_bucket": row.bucket_start,
             "count": merged.count, "errors": merged.errors, "total_ns": merged.total_ns,
             "sumsq_ms2": merged.sumsq_ms2, "min_ns": merged.min_ns, "max_ns": merged.max_ns,
             "last_ns": merged.last_ns, "sketch": merged.sketch.to_json()}
        )
    statement = (
        table.update()
        .where(
            table.c.kind == bindparam("k_kind"),
            table.c.name == bindparam("k_name"),
            table.c.bucket_start == bindparam("k_bucket"),
        )
        .values({column: bindparam(column) for column in
                 ("count", "errors", "total_ns", "sumsq_ms2", "min_ns", "max_ns", "last_ns",
                  "sketch")})
    )
    connection.execute(statement, updates)
