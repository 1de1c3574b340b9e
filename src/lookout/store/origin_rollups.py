"""Rollups per name, origin (host and app version) and bucket, written with every batch.

The plain rollups answer "how did /orders do"; these answer "how did /orders do on version
2.4 on web-3", and let every page filter by version and host and compare them without reading
raw events. The writer calls :meth:`OriginRollups.deltas` before a batch's transaction (it may
register new origins in a short transaction of its own, like names and sources) and
:meth:`OriginRollups.merge` / :meth:`OriginRollups.merge_sqlite` inside it, after the plain
rollups: same transaction, so events, rollups and origin rollups never disagree, and the same
lock order (minute table before hour table, keys sorted) for every writer, so none deadlock.

An origin is (host, app_version); a source adds the pid, so many short-lived workers of one
host and version share one origin and its rollup rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table, bindparam, select, tuple_

from lookout.store.dialects import insert_ignoring_conflicts, insert_locking, upsert_replacing
from lookout.store.rollups import _EMPTY_ROW, RollupDelta, aggregate, coarsen
from lookout.store.schema import ORIGIN_ROLLUP_COLUMNS, ORIGIN_ROLLUP_TABLES, origins

#: (name id, origin id, bucket start in epoch seconds): the tables' primary key, in its order.
OriginKey = tuple[int, int, int]
OriginDeltas = list[tuple[Table, dict[OriginKey, RollupDelta]]]
#: Where an events-table row keeps its source id (``EVENT_COLUMNS``).
_SOURCE = 5
#: Most keys read by one statement on SQLite (three bound values each).
MAX_KEYS_PER_READ = 256


class OriginRollups:
    """One writer's origin rollups: which origin each of its sources belongs to, and merging.

    ``source_ids`` is the writer's own cache of source ids by (host, pid, version): every
    source id in a row is there, so an origin is found without reading the sources table;
    ``stored_host`` renames hosts as the writer stores them (the ``hostname`` setting).
    """

    def __init__(
        self,
        engine: Engine,
        source_ids: dict[tuple[str, int, str], int],
        stored_host: dict[str, str],
    ) -> None:
        self.engine = engine
        self._source_ids = source_ids
        self._stored_host = stored_host
        self._origin_of: dict[int, int] = {}

    def deltas(self, rows: Sequence[Sequence[Any]]) -> OriginDeltas:
        """The batch's deltas per origin rollup table (minutes, and hours made from them).

        Call before the batch's transaction: a source seen for the first time gets its origin
        here, committed in a transaction of its own (and cached only then)."""
        by_source: dict[int, list[Sequence[Any]]] = {}
        for row in rows:
            source = row[_SOURCE]
            group = by_source.get(source)
            if group is None:
                by_source[source] = [row]
            else:
                group.append(row)
        missing = [source for source in by_source if source not in self._origin_of]
        if missing:
            self._register(missing)
        by_origin: dict[int, list[Sequence[Any]]] = {}
        for source, group in by_source.items():
            by_origin.setdefault(self._origin_of[source], []).extend(group)
        minute: dict[OriginKey, RollupDelta] = {}
        hour: dict[OriginKey, RollupDelta] = {}
        for origin, group in by_origin.items():
            per_name = aggregate(group, 60)
            for (name_id, start), delta in per_name.items():
                minute[(name_id, origin, start)] = delta
            for (name_id, start), delta in coarsen(per_name, 3600).items():
                hour[(name_id, origin, start)] = delta
        return [(ORIGIN_ROLLUP_TABLES[60], minute), (ORIGIN_ROLLUP_TABLES[3600], hour)]

    def origin_of(self, source_id: int) -> int:
        """The origin of a source that :meth:`deltas` has seen."""
        return self._origin_of[source_id]

    def _register(self, source_ids: list[int]) -> None:
        """Give the origins of ``source_ids`` ids, stored in a transaction of their own."""
        origin_of_source = {
            source_id: (self._stored_host.get(host, host), version)
            for (host, _pid, version), source_id in self._source_ids.items()
            if source_id in source_ids
        }
        keys = sorted(set(origin_of_source.values()))
        now_ns = time.time_ns()
        with self.engine.begin() as connection:
            connection.execute(
                insert_ignoring_conflicts(connection, origins),
                [
                    {"host": host, "app_version": version, "first_ns": now_ns}
                    for host, version in keys
                ],
            )
            found = connection.execute(
                select(origins.c.id, origins.c.host, origins.c.app_version).where(
                    tuple_(origins.c.host, origins.c.app_version).in_(keys)
                )
            ).all()
        ids = {(host, version): origin_id for origin_id, host, version in found}
        for source_id, key in origin_of_source.items():
            self._origin_of[source_id] = ids[key]


def merge(connection: Connection, deltas: OriginDeltas) -> None:
    """Merge origin deltas within the caller's transaction (PostgreSQL, MySQL/MariaDB):
    placeholder rows inserted (on MySQL/MariaDB taking the exclusive lock already), the rows
    read locked in key order, the merged values written back in one upsert (as
    :func:`lookout.store.rollups.merge_into` does, whose MySQL reasoning applies here)."""
    for table, by_key in deltas:
        if not by_key:
            continue
        keys = sorted(by_key)
        connection.execute(
            insert_locking(connection, table, "count"),
            [
                {**_EMPTY_ROW, "name_id": name_id, "origin_id": origin_id, "bucket_start": start}
                for name_id, origin_id, start in keys
            ],
        )
        current = {
            (row.name_id, row.origin_id, row.bucket_start): RollupDelta.from_row(row)
            for row in connection.execute(_locked_rows(table), {"keys": keys})
        }
        connection.execute(
            upsert_replacing(connection, table, ("name_id", "origin_id", "bucket_start")),
            [
                dict(zip(ORIGIN_ROLLUP_COLUMNS, values, strict=True))
                for values in _merged(keys, by_key, current)
            ],
        )


def merge_sqlite(cursor: Any, deltas: OriginDeltas, quote: Callable[[str], str]) -> None:
    """:func:`merge` on a sqlite3 cursor inside the writer's ``BEGIN IMMEDIATE``: plain SQL
    statements the sqlite3 module prepares once (key reads padded to a power of two)."""
    for table, by_key in deltas:
        if not by_key:
            continue
        keys = sorted(by_key)
        current: dict[OriginKey, RollupDelta] = {}
        for start in range(0, len(keys), MAX_KEYS_PER_READ):
            chunk = keys[start : start + MAX_KEYS_PER_READ]
            size = 1 << (len(chunk) - 1).bit_length()
            padded = chunk + [chunk[-1]] * (size - len(chunk))
            cursor.execute(_sqlite_read_sql(table.name, size, quote), list(chain(*padded)))
            for values in cursor.fetchall():
                current[(values[0], values[10], values[1])] = RollupDelta.from_row(values)
        cursor.executemany(_sqlite_upsert_sql(table.name, quote), _merged(keys, by_key, current))


def _merged(
    keys: list[OriginKey],
    deltas: dict[OriginKey, RollupDelta],
    current: dict[OriginKey, RollupDelta],
) -> list[tuple[Any, ...]]:
    """Rows to write, in the tables' column order, each delta merged into its stored row."""
    rows = []
    for key in keys:
        merged = current.get(key)
        if merged is None:
            merged = deltas[key]
        else:
            merged.merge(deltas[key])
        rows.append(
            (
                key[0],
                key[2],
                merged.count,
                merged.errors,
                merged.total_ns,
                merged.sumsq_ms2,
                merged.min_ns,
                merged.max_ns,
                merged.last_ns,
                merged.sketch.to_json(),
                key[1],
            )
        )
    return rows


@lru_cache(maxsize=64)
def _sqlite_read_sql(table: str, key_count: int, quote: Callable[[str], str]) -> str:
    keys = ", ".join(["(?, ?, ?)"] * key_count)
    columns = ", ".join(quote(column) for column in ORIGIN_ROLLUP_COLUMNS)
    return (
        f"SELECT {columns} FROM {table} WHERE (name_id, origin_id, bucket_start) IN (VALUES {keys})"
    )


@lru_cache(maxsize=8)
def _sqlite_upsert_sql(table: str, quote: Callable[[str], str]) -> str:
    columns = ", ".join(quote(column) for column in ORIGIN_ROLLUP_COLUMNS)
    markers = ", ".join(["?"] * len(ORIGIN_ROLLUP_COLUMNS))
    updates = ", ".join(
        f"{quote(column)} = excluded.{quote(column)}"
        for column in ORIGIN_ROLLUP_COLUMNS
        if column not in ("name_id", "origin_id", "bucket_start")
    )
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({markers}) "
        f"ON CONFLICT (name_id, origin_id, bucket_start) DO UPDATE SET {updates}"
    )


@lru_cache(maxsize=16)
def _locked_rows(table: Table) -> Select[Any]:
    """The rows of some keys, locked, in key order; ``keys`` expands at execution."""
    key = (table.c.name_id, table.c.origin_id, table.c.bucket_start)
    return (
        select(table)
        .where(tuple_(*key).in_(bindparam("keys", expanding=True)))
        .order_by(*key)
        .with_for_update()
    )
