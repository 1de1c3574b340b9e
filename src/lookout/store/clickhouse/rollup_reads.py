"""Merged rollups for the dashboard's pages on ClickHouse: per name, per chart bucket, per
version or host, over any range, with or without a version / host filter.

Two tables answer each question, because they cost differently on the server:

- counts, errors, sums, extremes and last access come from the rollups' aggregate states
  (``countMerge`` ...), cheap whatever the range;
- the latency sketch comes from the sketch rows (:data:`.schema.SKETCHES`: one row per bucket
  and sketch index with its count) as a plain ``sum`` grouped by index. Merging the rollups'
  ``sumMap`` states instead was most of every query's time on 18.16.

A version or host filter, or a grouping by them, reads the origin rollups (their sketch is a
``sumMap`` state: those answers pay the merge, for the names and range asked only). Every
grouping happens in the server, so what comes back is one row per answer's key (a name, a
chart bucket, a version), never one per stored bucket.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lookout.store.clickhouse import schema
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.rollups import RollupDelta
from lookout.store.sketch import LatencySketch

#: Ask for these names by name in the query up to this many (more: by kind, kept in Python).
NAMES_IN_QUERY = 1000
_STATES = (
    "countMerge(count), sumMerge(errors), sumMerge(total_ns), sumMerge(sumsq_ms2), "
    "minMerge(min_ns), maxMerge(max_ns), maxMerge(last_ns)"
)
Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Select:
    """Which rollup rows one answer merges, and what it groups them by.

    ``stored`` is 60 (minute rows) or 3600 (hour rows); ``[start_s, end_s)`` the buckets read.
    The key of each answer row is (kind, name) when ``by_name``, then the chart bucket
    (``bucket_s``, a multiple of ``stored``) when given, then each column of ``by``
    (``app_version``, ``host``)."""

    stored: int
    start_s: int
    end_s: int
    kinds: Collection[str] | None = None
    names: Collection[tuple[str, str]] | None = None
    version: str | None = None
    host: str | None = None
    by_name: bool = True
    bucket_s: int | None = None
    by: tuple[str, ...] = ()

    @property
    def per_origin(self) -> bool:
        return self.version is not None or self.host is not None or bool(self.by)


def _where(select: Select) -> tuple[str, dict[str, Any]]:
    where = ["bucket_start >= %(start)s", "bucket_start < %(end)s"]
    params: dict[str, Any] = {
        "start": max(0, int(select.start_s)),
        "end": min(max(0, int(select.end_s)), 2**32 - 1),
    }
    if select.kinds is not None:
        where.append("kind IN %(kinds)s")
        params["kinds"] = tuple(select.kinds)
    if select.names is not None and len(select.names) <= NAMES_IN_QUERY:
        where.append("name IN %(names)s")
        params["names"] = tuple({name for _, name in select.names}) or ("",)
    if select.version is not None:
        where.append("app_version = %(version)s")
        params["version"] = select.version
    if select.host is not None:
        where.append("host = %(host)s")
        params["host"] = select.host
    return " AND ".join(where), params


def _keys(select: Select) -> list[str]:
    keys = ["kind", "name"] if select.by_name else []
    if select.bucket_s is not None:
        keys.append(f"intDiv(bucket_start, {int(select.bucket_s)}) * {int(select.bucket_s)}")
    return keys + [column for column in select.by if column in ("app_version", "host")]


def merged(
    store: ClickHouseStore, select: Select, *, sketch: bool = True
) -> dict[Key, RollupDelta]:
    """The rollups ``select`` names, merged per its key (``sketch=False``: no percentiles)."""
    where, params = _where(select)
    keys = _keys(select)
    group = f"GROUP BY {', '.join(keys)}" if keys else ""
    columns = ", ".join([*keys, ""]) if keys else ""
    wanted = None if select.names is None else set(select.names)
    width = len(keys)
    found: dict[Key, RollupDelta] = {}
    if select.per_origin:
        table = store.table(schema.ORIGIN_ROLLUPS[select.stored])
        states = _STATES + (", sumMapMerge(sketch)" if sketch else "")
    else:
        table = store.table(schema.ROLLUPS[select.stored])
        states = _STATES
    rows = store.execute(f"SELECT {columns}{states} FROM {table} WHERE {where} {group}", params)
    for row in rows:
        key = tuple(int(v) if isinstance(v, int) else v for v in row[:width])
        if wanted is not None and select.by_name and key[:2] not in wanted:
            continue
        found[key] = _delta(row[width:])
    if sketch and not select.per_origin:
        _add_sketches(store, select, where, params, keys, found)
    return found


def _add_sketches(
    store: ClickHouseStore,
    select: Select,
    where: str,
    params: dict[str, Any],
    keys: Sequence[str],
    found: dict[Key, RollupDelta],
) -> None:
    """Each key's sketch from the sketch rows (``sum(n)`` per key and sketch index)."""
    table = store.table(schema.SKETCHES[select.stored])
    group = ", ".join([*keys, "idx"])
    rows = store.execute(
        f"SELECT {group}, sum(n) FROM {table} WHERE {where} GROUP BY {group}", params
    )
    width = len(keys)
    for row in rows:
        delta = found.get(tuple(row[:width]))
        if delta is not None:
            buckets = delta.sketch.buckets
            buckets[int(row[width])] = buckets.get(int(row[width]), 0) + int(row[width + 1])
    for delta in found.values():
        delta.sketch = LatencySketch(delta.sketch.buckets)  # its count follows the buckets


def _delta(row: Sequence[Any]) -> RollupDelta:
    count, errors, total, sumsq, low, high, last, *rest = row
    sketch = LatencySketch(dict(zip(*rest[0], strict=True))) if rest else LatencySketch()
    return RollupDelta(
        count=int(count),
        errors=int(errors),
        total_ns=int(total),
        sumsq_ms2=float(sumsq),
        min_ns=int(low),
        max_ns=int(high),
        last_ns=int(last),
        sketch=sketch,
    )


def first_bucket(store: ClickHouseStore, select: Select) -> int | None:
    """The first stored bucket ``select`` holds (a plain ``min`` of the tables' key)."""
    where, params = _where(select)
    tables = schema.ORIGIN_ROLLUPS if select.per_origin else schema.ROLLUPS
    wanted = None if select.names is None else set(select.names)
    rows = store.execute(
        f"SELECT kind, name, min(bucket_start) FROM {store.table(tables[select.stored])} "
        f"WHERE {where} GROUP BY kind, name",
        params,
    )
    starts = [int(start) for kind, name, start in rows if wanted is None or (kind, name) in wanted]
    return min(starts, default=None)


def names(store: ClickHouseStore, kinds: Iterable[str]) -> list[tuple[str, str]]:
    """Every (kind, name) of ``kinds`` with hour rollups still kept, sorted."""
    return [
        (str(kind), str(name))
        for kind, name in store.execute(
            f"SELECT DISTINCT kind, name FROM {store.table(schema.ROLLUPS[3600])} "
            "WHERE kind IN %(kinds)s ORDER BY kind, name",
            {"kinds": tuple(kinds)},
        )
    ]


def origins(store: ClickHouseStore) -> list[tuple[str, str, int]]:
    """(host, version, first event ns) of every origin with hour rollups kept, oldest first."""
    rows = store.execute(
        f"SELECT host, app_version, minMerge(first_ns) AS first "
        f"FROM {store.table(schema.ORIGIN_ROLLUPS[3600])} GROUP BY host, app_version "
        "ORDER BY first, host, app_version"
    )
    return [(str(host), str(version), int(first)) for host, version, first in rows]


def hour_counts(
    store: ClickHouseStore, kinds: Iterable[str], start_s: int, end_s: int
) -> list[tuple[str, str, int, int]]:
    """(kind, name, hour, count) of every hour in ``[start_s, end_s)`` (utilization)."""
    return [
        (str(kind), str(name), int(bucket), int(count))
        for kind, name, bucket, count in store.execute(
            f"SELECT kind, name, bucket_start, countMerge(count) "
            f"FROM {store.table(schema.ROLLUPS[3600])} WHERE kind IN %(kinds)s "
            "AND bucket_start >= %(start)s AND bucket_start < %(end)s "
            "GROUP BY kind, name, bucket_start",
            {"kinds": tuple(kinds), "start": max(0, start_s), "end": max(0, end_s)},
        )
    ]
