"""Per-name, per-minute and per-hour aggregates, merged into the store with each batch.

The writer aggregates a batch in memory first (one delta per name and bucket), then merges the
deltas into the rollup rows inside the same transaction that inserts the raw events, so rollups
and events never disagree. Merging is read-modify-write because the latency sketch is JSON:
placeholder rows are inserted if missing (ignoring conflicts), the rows are locked
(``SELECT ... FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock) in key
order so concurrent writers cannot deadlock, and updated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, select, tuple_

from lookout.store.dialects import insert_locking, upsert_replacing
from lookout.store.schema import ROLLUP_COLUMNS
from lookout.store.sketch import LatencySketch

#: (name id, bucket start in epoch seconds)
RollupKey = tuple[int, int]


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
        self.last_ns = max(self.last_ns, start_ns)
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
    def from_row(cls, row: Sequence[Any]) -> RollupDelta:
        """From a row that starts with a rollup table's columns, in order (``select(table,
        ...)``, or the SQLite writer's read: see ``ROLLUP_COLUMNS``)."""
        return cls(
            count=row[2],
            errors=row[3],
            total_ns=row[4],
            sumsq_ms2=row[5],
            min_ns=row[6],
            max_ns=row[7],
            last_ns=row[8],
            sketch=LatencySketch.from_json(row[9]),
        )


def aggregate(
    rows: Iterable[Sequence[Any]], bucket_seconds: int = 60
) -> dict[RollupKey, RollupDelta]:
    """Aggregate event rows (see :data:`~lookout.store.schema.EVENT_COLUMNS`) into one delta
    per (name id, bucket).

    This runs for every event written: the rows are grouped by name with built-ins (a sort
    and ``groupby``) and each group is summarised in one typed loop, which the compiled build
    (docs/native.md) runs without a Python call per row. A batch spans a second or so, and
    its rows of one name fall in one bucket unless the batch crosses a bucket's end.
    """
    bucket_ns = bucket_seconds * 1_000_000_000
    deltas: dict[RollupKey, RollupDelta] = {}
    for name_id, rows_of_name in groupby(sorted(rows, key=_NAME_ID), key=_NAME_ID):
        group = list(rows_of_name)
        summary, first_start_ns = _summarise(group)
        first, last = first_start_ns // bucket_ns, summary.last_ns // bucket_ns
        if first == last:
            deltas[(name_id, first * bucket_seconds)] = summary
            continue
        by_bucket: dict[int, list[Sequence[Any]]] = {}
        for row in group:
            by_bucket.setdefault(row[1] // bucket_ns, []).append(row)
        for bucket, in_bucket in by_bucket.items():
            deltas[(name_id, bucket * bucket_seconds)] = _summarise(in_bucket)[0]
    return deltas


_NAME_ID = itemgetter(0)


def _summarise(group: list[Sequence[Any]]) -> tuple[RollupDelta, int]:
    """The delta of a non-empty group of rows, and its earliest start."""
    durations: list[int] = []
    total = squares = errors = 0
    low = high = int(group[0][2])
    first = last = int(group[0][1])
    for row in group:
        start: int = row[1]
        duration: int = row[2]
        is_error: int = row[3]
        durations.append(duration)
        total += duration
        squares += duration * duration  # exact: integer nanoseconds
        errors += is_error
        if duration < low:
            low = duration
        elif duration > high:
            high = duration
        if start > last:
            last = start
        elif start < first:
            first = start
    delta = RollupDelta(
        count=len(durations),
        errors=errors,
        total_ns=total,
        sumsq_ms2=squares / 1e12,
        min_ns=low,
        max_ns=high,
        last_ns=last,
        sketch=LatencySketch.of(durations),
    )
    return delta, first


def coarsen(
    deltas: dict[RollupKey, RollupDelta], bucket_seconds: int
) -> dict[RollupKey, RollupDelta]:
    """Merge fine-grained deltas (e.g. minutes) into coarser buckets (e.g. hours)."""
    coarse: dict[RollupKey, RollupDelta] = {}
    for (name_id, start), delta in deltas.items():
        key = (name_id, start // bucket_seconds * bucket_seconds)
        target = coarse.get(key)
        if target is None:
            target = coarse[key] = RollupDelta()
        target.merge(delta)
    return coarse


def merge_into(connection: Connection, table: Table, deltas: dict[RollupKey, RollupDelta]) -> None:
    """Merge ``deltas`` into ``table`` within the caller's transaction.

    1. (PostgreSQL, MySQL) insert empty rows for missing keys, ignoring conflicts, so that
       every key has a row that step 2 can lock; on MySQL/MariaDB this statement already
       takes the exclusive lock (see :func:`~lookout.store.dialects.insert_locking`);
    2. read the rows, locked (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already holds the
       database's write lock), in key order so that concurrent writers cannot deadlock;
    3. write the merged values back in one upsert.
    Three statements per table whatever the number of keys, each compiled once (see
    :mod:`lookout.store.dialects`); a batch has only a few keys (names x minutes), so the
    ``executemany`` of steps 1 and 3 costs a few rows. SQLite's writer takes
    :func:`merge_into_sqlite` instead.
    """
    if not deltas:
        return
    keys: Sequence[RollupKey] = sorted(deltas)
    if connection.dialect.name != "sqlite":
        connection.execute(
            insert_locking(connection, table, "count"),
            [{**_EMPTY_ROW, "name_id": name_id, "bucket_start": start} for name_id, start in keys],
        )
    current = {
        (row.name_id, row.bucket_start): RollupDelta.from_row(row)
        for row in connection.execute(_locked_rows(table), {"keys": keys})
    }
    connection.execute(
        upsert_replacing(connection, table, ("name_id", "bucket_start")),
        [
            dict(zip(ROLLUP_COLUMNS, values, strict=True))
            for values in _merged(keys, deltas, current)
        ],
    )


def merge_into_sqlite(
    cursor: Any, table: Table, deltas: dict[RollupKey, RollupDelta], quote: Callable[[str], str]
) -> None:
    """:func:`merge_into` on a sqlite3 cursor inside ``BEGIN IMMEDIATE``: the same read and
    upsert as plain SQL statements, which the sqlite3 module prepares once and keeps.

    Keys are read in chunks padded to a power of two (a repeated key matches the same row),
    so a handful of statements serve every batch.
    """
    if not deltas:
        return
    keys = sorted(deltas)
    current: dict[RollupKey, RollupDelta] = {}
    for start in range(0, len(keys), MAX_KEYS_PER_READ):
        chunk = keys[start : start + MAX_KEYS_PER_READ]
        size = 1 << (len(chunk) - 1).bit_length()
        padded = chunk + [chunk[-1]] * (size - len(chunk))
        cursor.execute(_sqlite_read_sql(table.name, size, quote), list(chain.from_iterable(padded)))
        for values in cursor.fetchall():
            current[(values[0], values[1])] = RollupDelta.from_row(values)
    cursor.executemany(_sqlite_upsert_sql(table.name, quote), _merged(keys, deltas, current))


#: Most keys read by one statement on SQLite (two bound values each).
MAX_KEYS_PER_READ = 256


def _merged(
    keys: Sequence[RollupKey],
    deltas: dict[RollupKey, RollupDelta],
    current: dict[RollupKey, RollupDelta],
) -> list[tuple[Any, ...]]:
    """The rollup rows to write, in the order of ``keys`` (the deltas' keys, sorted by the
    caller, which locks and reads in that order): each delta merged into its stored row."""
    merged_rows = []
    for key in keys:
        merged = current.get(key)
        if merged is None:
            merged = deltas[key]
        else:
            merged.merge(deltas[key])
        merged_rows.append(
            (
                key[0],
                key[1],
                merged.count,
                merged.errors,
                merged.total_ns,
                merged.sumsq_ms2,
                merged.min_ns,
                merged.max_ns,
                merged.last_ns,
                merged.sketch.to_json(),
            )
        )
    return merged_rows


@lru_cache(maxsize=64)
def _sqlite_read_sql(table: str, key_count: int, quote: Callable[[str], str]) -> str:
    keys = ", ".join(["(?, ?)"] * key_count)
    columns = ", ".join(quote(column) for column in ROLLUP_COLUMNS)
    return f"SELECT {columns} FROM {table} WHERE (name_id, bucket_start) IN (VALUES {keys})"


@lru_cache(maxsize=8)
def _sqlite_upsert_sql(table: str, quote: Callable[[str], str]) -> str:
    columns = ", ".join(quote(column) for column in ROLLUP_COLUMNS)
    markers = ", ".join(["?"] * len(ROLLUP_COLUMNS))
    updates = ", ".join(
        f"{quote(column)} = excluded.{quote(column)}" for column in ROLLUP_COLUMNS[2:]
    )
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({markers}) "
        f"ON CONFLICT (name_id, bucket_start) DO UPDATE SET {updates}"
    )


_EMPTY_ROW: dict[str, Any] = {
    "count": 0,
    "errors": 0,
    "total_ns": 0,
    "sumsq_ms2": 0.0,
    "min_ns": None,
    "max_ns": None,
    "last_ns": 0,
    "sketch": "[]",
}


@lru_cache(maxsize=16)
def _locked_rows(table: Table) -> Select[Any]:
    """The rows of some keys, locked, in key order; ``keys`` expands at execution."""
    return (
        select(table)
        .where(tuple_(table.c.name_id, table.c.bucket_start).in_(bindparam("keys", expanding=True)))
        .order_by(table.c.name_id, table.c.bucket_start)
        .with_for_update()
    )
