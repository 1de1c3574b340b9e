"""Merged rollups for the dashboard's pages on ClickHouse: per name, per chart bucket, per
version or host, over any range, with or without a version / host filter.

Two tables answer each question, because they cost differently on the server:

- counts, errors, sums, extremes and last access come from the rollups' aggregate states
  (``countMerge`` ...), cheap whatever the range;
- the latency sketch comes from the sketch rows (:data:`.schema.SKETCHES`: one row per bucket
  and sketch index with its count) as a plain ``sum`` grouped by index. Merging the rollups'
  ``sumMap`` states instead was most of every query's time on 18.16.

A version or host filter, or a grouping by them, reads the origin rollups and the sketch rows
of that filter (per version, per host, per both). With both filters, a range's minutes are
counted from the raw events (:data:`.schema.RAW_SKETCH`: no table keeps them). Every
grouping happens in the server, so what comes back is one row per answer's key (a name, a
chart bucket, a version), never one per stored bucket.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lookout.store.clickhouse import schema
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.rollups import RollupDelta
from lookout.store.sketch import LatencySketch

#: Ask for these names by name in the query up to this many (more: by kind, kept in Python).
NAMES_IN_QUERY = 1000
NS = 1_000_000_000
_STATES = (
    "countMerge(count), sumMerge(errors), sumMerge(total_ns), sumMerge(sumsq_ms2), "
    "minMerge(min_ns), maxMerge(max_ns), maxMerge(last_ns)"
)
_STATE_COLUMNS = "count, errors, total_ns, sumsq_ms2, min_ns, max_ns, last_ns"
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
    #: (stored, start_s, end_s) ranges read together (one query, grouped once) instead of
    #: ``stored``, ``start_s``, ``end_s``: a range's whole hours and its ragged minute ends.
    segments: tuple[tuple[int, int, int], ...] = ()

    @property
    def parts(self) -> tuple[tuple[int, int, int], ...]:
        return self.segments or ((self.stored, self.start_s, self.end_s),)

    @property
    def per_origin(self) -> bool:
        return self.version is not None or self.host is not None or bool(self.by)


def _where(select: Select) -> tuple[str, dict[str, Any]]:
    where = ["1"]
    params: dict[str, Any] = {}
    if select.kinds is not None:
        where.append("kind IN %(kinds)s")
        params["kinds"] = tuple(select.kinds)
    if select.names is not None and len(select.names) <= NAMES_IN_QUERY:
        where.append("name IN %(names)s")
        params["names"] = tuple({name for _, name in select.names})
    if select.version is not None:
        where.append("app_version = %(version)s")
        params["version"] = select.version
    if select.host is not None:
        where.append("host = %(host)s")
        params["host"] = select.host
    return " AND ".join(where), params


def _source(
    store: ClickHouseStore,
    select: Select,
    tables: dict[int, str],
    columns: str,
    *,
    raw_minutes: bool = False,
) -> tuple[str, dict[str, Any]]:
    """What a read selects from: ``columns`` of every segment's table, as one UNION ALL
    (``raw_minutes``: a sketch family without minute rows, whose minutes are counted from the
    raw events)."""
    where, params = _where(select)
    parts = []
    for n, (stored, start, end) in enumerate(select.parts):
        params[f"start{n}"] = max(0, int(start))
        params[f"end{n}"] = min(max(0, int(end)), 2**32 - 1)
        if raw_minutes and stored == 60:
            # the events whose minute is in [start, end): from the first whole minute at or
            # after start to the one at or after end (the raw events' key is kind, name, start)
            params[f"first_ns{n}"] = -(-params[f"start{n}"] // 60) * 60 * NS
            params[f"end_ns{n}"] = -(-params[f"end{n}"] // 60) * 60 * NS
            starts = f"start_ns >= %(first_ns{n})s AND start_ns < %(end_ns{n})s"
            parts.append(f"SELECT {columns} FROM ({_raw_sketch(store, f'{where} AND {starts}')})")
            continue
        parts.append(
            f"SELECT {columns} FROM {store.table(tables[stored])} WHERE {where} "
            f"AND bucket_start >= %(start{n})s AND bucket_start < %(end{n})s"
        )
    return f"({' UNION ALL '.join(parts)})", params


def _raw_sketch(store: ClickHouseStore, where: str) -> str:
    """Minute sketch rows counted from the raw events ``where`` keeps (the same columns and
    bucket index as the sketch tables')."""
    return schema.RAW_SKETCH.format(events=store.table(schema.EVENTS), where=where)


def _keys(select: Select) -> list[str]:
    keys = ["kind", "name"] if select.by_name else []
    if select.bucket_s is not None:
        keys.append(f"intDiv(bucket_start, {int(select.bucket_s)}) * {int(select.bucket_s)}")
    return keys + [column for column in select.by if column in ("app_version", "host")]


def merged(
    store: ClickHouseStore, select: Select, *, sketch: bool = True
) -> dict[Key, RollupDelta]:
    """The rollups ``select`` names, merged per its key (``sketch=False``: no percentiles)."""
    if select.names is not None and not select.names:
        return {}
    keys = _keys(select)
    group = f"GROUP BY {', '.join(keys)}" if keys else ""
    columns = ", ".join([*keys, ""]) if keys else ""
    wanted = None if select.names is None else set(select.names)
    width = len(keys)
    found: dict[Key, RollupDelta] = {}
    tables = schema.ORIGIN_ROLLUPS if select.per_origin else schema.ROLLUPS
    origin = "app_version, host, " if select.per_origin else ""
    source, params = _source(
        store, select, tables, f"kind, name, {origin}bucket_start, {_STATE_COLUMNS}"
    )
    rows = store.execute(f"SELECT {columns}{_STATES} FROM {source} {group}", params)
    for row in rows:
        key = tuple(int(v) if isinstance(v, int) else v for v in row[:width])
        if wanted is not None and select.by_name and key[:2] not in wanted:
            continue
        found[key] = _delta(row[width:])
    if sketch:
        _add_sketches(store, select, keys, found)
    return found


def _add_sketches(
    store: ClickHouseStore, select: Select, keys: Sequence[str], found: dict[Key, RollupDelta]
) -> None:
    """Each key's sketch from the sketch rows (``sum(n)`` per key and sketch index)."""
    tables, origin = _sketch_family(select)
    coarse = replace(select, segments=sketch_parts(select.parts, select.bucket_s, tables))
    columns = f"kind, name, {origin}bucket_start, idx, n"
    source, params = _source(store, coarse, tables, columns, raw_minutes=60 not in tables)
    group = ", ".join([*keys, "idx"])
    rows = store.execute(f"SELECT {group}, sum(n) FROM {source} GROUP BY {group}", params)
    width = len(keys)
    for row in rows:
        delta = found.get(tuple(row[:width]))
        if delta is not None:
            buckets = delta.sketch.buckets
            buckets[int(row[width])] = buckets.get(int(row[width]), 0) + int(row[width + 1])
    for delta in found.values():
        delta.sketch = LatencySketch(delta.sketch.buckets)  # its count follows the buckets


def _sketch_family(select: Select) -> tuple[dict[int, str], str]:
    """The sketch tables that hold what ``select`` filters and groups by, and their origin
    columns: the plain ones, per version, per host, or per (version, host)."""
    if not select.per_origin:
        return schema.SKETCHES, ""
    used = set(select.by) | {
        column
        for column, value in (("app_version", select.version), ("host", select.host))
        if value is not None
    }
    if used == {"app_version"}:
        return schema.VERSION_SKETCHES, "app_version, "
    if used == {"host"}:
        return schema.HOST_SKETCHES, "host, "
    return schema.ORIGIN_SKETCHES, "app_version, host, "


def sketch_parts(
    parts: Iterable[tuple[int, int, int]],
    bucket_s: int | None,
    tables: Collection[int] = tuple(schema.SKETCHES),
) -> tuple[tuple[int, int, int], ...]:
    """``parts`` with the whole coarser buckets of each minute (hour) part read from the
    family's coarser sketch rows (``tables``: its bucket sizes): 10 or 5 minutes (a day). The
    same events, fewer rows. Not where a chart's bucket is not a multiple of the coarser one
    (its buckets would mix)."""
    coarser = {60: min(s for s in tables if 60 < s < 3600), 3600: 86400}
    found: list[tuple[int, int, int]] = []
    for stored, start, end in parts:
        coarse = coarser.get(stored)
        if coarse is None or (bucket_s is not None and bucket_s % coarse):
            found.append((stored, start, end))
            continue
        first, last = -(-start // coarse) * coarse, end // coarse * coarse
        if first >= last:
            found.append((stored, start, end))
            continue
        pieces = ((stored, start, first), (coarse, first, last), (stored, last, end))
        found += [piece for piece in pieces if piece[1] < piece[2]]
    return tuple(found)


def _delta(row: Sequence[Any]) -> RollupDelta:
    count, errors, total, sumsq, low, high, last = row
    return RollupDelta(
        count=int(count),
        errors=int(errors),
        total_ns=int(total),
        sumsq_ms2=float(sumsq),
        min_ns=int(low),
        max_ns=int(high),
        last_ns=int(last),
    )


def first_bucket(store: ClickHouseStore, select: Select) -> int | None:
    """The first stored bucket ``select`` holds (a plain ``min`` of the tables' key)."""
    if select.names is not None and not select.names:
        return None
    tables = schema.ORIGIN_ROLLUPS if select.per_origin else schema.ROLLUPS
    wanted = None if select.names is None else set(select.names)
    source, params = _source(store, select, tables, "kind, name, bucket_start")
    rows = store.execute(
        f"SELECT kind, name, min(bucket_start) FROM {source} GROUP BY kind, name", params
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
    """(host, version, first event ns) of every origin with hour rollups kept, oldest first:
    each origin's first hour (a ``min`` of the key), then its first event in that hour only
    (``minMerge`` of every row's state was 70-150 ms at 10 million events)."""
    table = store.table(schema.ORIGIN_ROLLUPS[3600])
    firsts = store.execute(
        f"SELECT app_version, host, min(bucket_start) FROM {table} GROUP BY app_version, host"
    )
    if not firsts:
        return []
    # Listed, not a subquery: an IN subquery over a Distributed table is refused (a cluster).
    rows = store.execute(
        f"SELECT host, app_version, minMerge(first_ns) AS first FROM {table} "
        "WHERE (app_version, host, bucket_start) IN %(firsts)s "
        "GROUP BY host, app_version ORDER BY first, host, app_version",
        {"firsts": tuple(tuple(row) for row in firsts)},
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
