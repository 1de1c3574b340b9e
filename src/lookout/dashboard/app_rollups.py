"""Reading rollups for the overview: names, each name's rollups over a range exact to the
minute, per chart bucket, and where a range's data starts; from the SQL store's tables or
ClickHouse's (:mod:`lookout.store.clickhouse.rollup_reads`, which merges in the server).

Totals over a range are exact to the minute: whole hours inside the range are read from the
hour rollups and the ragged ends from the minute rollups. A version or host filter reads the
origin rollup tables instead of the plain ones, for the origins it keeps (both hold the same
counts and sketches), row by row like the plain ones rather than through
``origin_queries.origin_rollups`` (which makes a RollupDelta of every row: five times slower).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from lookout.dashboard.window import ChartWindow
from lookout.store import schema
from lookout.store.clickhouse import rollup_reads
from lookout.store.delta_reads import rollup_source
from lookout.store.engine import SqlStore
from lookout.store.origin_queries import list_origins
from lookout.store.rollups import RollupDelta
from lookout.store.sketch import LatencySketch
from lookout.testruns import TEST_PREFIX

HOUR = 3600
NameKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events count: only this app version / host (None: all)."""

    version: str | None = None
    host: str | None = None

    @property
    def any(self) -> bool:
        return self.version is not None or self.host is not None


class Merged:
    """Rollup rows merged: what the answers here need of them (count, errors, last access,
    the latency sketch's bucket counts). Lighter than RollupDelta: the rows' sketches (flat
    JSON arrays) are kept as text and parsed in one piece when first needed, then added into
    one dict, with no sketch object per row: a 24 h series reads 1,440 minute rows per name,
    and one parse of their joined text costs a third of one parse per row."""

    __slots__ = ("_buckets", "_texts", "count", "errors", "last_ns")

    def __init__(self) -> None:
        self.count = self.errors = self.last_ns = 0
        self._buckets: dict[int, int] = {}
        self._texts: list[str] = []

    def add(self, count: int, errors: int, last_ns: int, sketch: str | list[int]) -> None:
        """One row: its sketch as stored (JSON text) or as a flat [index, count, ...] list."""
        self.count += count
        self.errors += errors
        self.last_ns = max(self.last_ns, last_ns)
        if isinstance(sketch, str):
            if len(sketch) > 2:
                self._texts.append(sketch[1:-1])
        else:
            self._add_flat(sketch)

    def _add_flat(self, flat: list[int]) -> None:
        buckets = self._buckets
        get = buckets.get
        for index, count in zip(flat[::2], flat[1::2], strict=True):
            buckets[index] = get(index, 0) + count

    @classmethod
    def of(cls, delta: RollupDelta) -> Merged:
        """A merged row from a RollupDelta (what ClickHouse's reads hand back)."""
        found = cls()
        found.count, found.errors, found.last_ns = delta.count, delta.errors, delta.last_ns
        found._buckets = dict(delta.sketch.buckets)
        return found

    def merge(self, other: Merged) -> None:
        self.add(other.count, other.errors, other.last_ns, [])
        self._add_flat([value for pair in other.buckets.items() for value in pair])

    @property
    def buckets(self) -> dict[int, int]:
        if self._texts:
            self._add_flat(json.loads("[" + ",".join(self._texts) + "]"))
            self._texts = []
        return self._buckets

    @property
    def sketch(self) -> LatencySketch:
        return LatencySketch(self.buckets)


# -- reading rollups -----------------------------------------------------------------------------
def name_ids(
    store: SqlStore, kinds: Collection[str], names_: Collection[NameKey] | None = None
) -> dict[int, NameKey]:
    """The ids of the names of ``kinds`` (the pytest plugin's tests left out: they have the
    Tests page), or of ``names_`` only."""
    names = schema.names
    wanted = None if names_ is None else set(names_)
    if store.backend == "clickhouse":  # no names table: ids numbered here, for this answer
        keys = rollup_reads.names(store, kinds)  # type: ignore[arg-type]
        return dict(
            enumerate(
                key
                for key in keys
                if not (key[0] == "call" and key[1].startswith(TEST_PREFIX))
                and (wanted is None or key in wanted)
            )
        )
    with store.read_engine.connect() as connection:
        rows = connection.execute(
            sa.select(names.c.id, names.c.kind, names.c.name).where(names.c.kind.in_(kinds))
        )
        return {
            int(ident): (kind, name)
            for ident, kind, name in rows
            if not (kind == "call" and name.startswith(TEST_PREFIX))
            and (wanted is None or (kind, name) in wanted)
        }


def _segments(start_s: int, end_s: int) -> list[tuple[int, int, int]]:
    """(stored bucket, from, to): whole hours from the hour rows, the ends from minute rows."""
    start_s = start_s // 60 * 60
    end_s = -(-end_s // 60) * 60
    first_hour = -(-start_s // HOUR) * HOUR
    last_hour = end_s // HOUR * HOUR
    if first_hour >= last_hour:
        return [(60, start_s, end_s)]
    found = [(60, start_s, first_hour), (HOUR, first_hour, last_hour), (60, last_hour, end_s)]
    return [segment for segment in found if segment[1] < segment[2]]


def _rows(
    store: SqlStore,
    ids: dict[int, NameKey],
    stored: int,
    start_s: int,
    end_s: int,
    filters: Filters,
) -> Iterable[tuple[NameKey, int, int, int, int, str]]:
    """(name, stored bucket start, count, errors, last_ns, sketch JSON) of every rollup row of
    ``ids`` in the range: the plain rollups, or with a version or host filter the origin
    rollups of the origins it keeps (read alike, through their (name, origin, bucket) key)."""
    if filters.any:
        origin_ids = _origin_ids(store, filters)
        if not origin_ids:
            return
        table = rollup_source(store, schema.ORIGIN_ROLLUP_TABLES[stored])
        where = [table.c.name_id.in_(list(ids)), table.c.origin_id.in_(origin_ids)]
    else:
        table = rollup_source(store, schema.ROLLUP_TABLES[stored])
        where = [table.c.name_id.in_(list(ids))]
    c = table.c
    query = sa.select(c.name_id, c.bucket_start, c.count, c.errors, c.last_ns, c.sketch).where(
        *where, c.bucket_start >= start_s, c.bucket_start < end_s
    )
    with store.read_engine.connect() as connection:
        for name, bucket, count, errors, last_ns, sketch in connection.execute(query):
            yield ids[name], int(bucket), count, errors, last_ns, sketch or ""


def _origin_ids(store: SqlStore, filters: Filters) -> list[int]:
    """The origins (host, version) a filter keeps."""
    return [
        origin.id
        for origin in list_origins(store)
        if filters.version in (None, origin.version) and filters.host in (None, origin.host)
    ]


def per_name(
    store: SqlStore,
    ids: dict[int, NameKey],
    start_s: int,
    end_s: int,
    filters: Filters,
) -> dict[NameKey, Merged]:
    """Each name's rollups over ``[start_s, end_s)`` merged, exact to the minute."""
    merged: dict[NameKey, Merged] = {}
    if not ids:
        return merged
    if store.backend == "clickhouse":  # every segment in one query, merged in the server
        select = _select(ids, HOUR, start_s, end_s, filters, segments=_segments(start_s, end_s))
        read = rollup_reads.merged(store, select)  # type: ignore[arg-type]
        return {(key[0], key[1]): Merged.of(delta) for key, delta in read.items()}
    for stored, start, end in _segments(start_s, end_s):
        for key, _, count, errors, last_ns, flat in _rows(store, ids, stored, start, end, filters):
            found = merged.get(key)
            if found is None:
                found = merged[key] = Merged()
            found.add(count, errors, last_ns, flat)
    return merged


def _select(
    ids: dict[int, NameKey],
    stored: int,
    start_s: int,
    end_s: int,
    filters: Filters,
    bucket_s: int | None = None,
    segments: list[tuple[int, int, int]] | None = None,
) -> rollup_reads.Select:
    """The ClickHouse read of ``ids``' rollups (per name, or per chart bucket of all of them)."""
    return rollup_reads.Select(
        stored=stored,
        start_s=start_s,
        end_s=end_s,
        kinds=sorted({kind for kind, _ in ids.values()}),
        names=list(ids.values()),
        version=filters.version,
        host=filters.host,
        by_name=bucket_s is None,
        bucket_s=bucket_s,
        segments=tuple(segments or ()),
    )


def first_data(
    store: SqlStore, ids: dict[int, NameKey], start_s: int, end_s: int, filters: Filters
) -> int | None:
    """The first minute in the range that holds data of ``ids`` (None: none).

    The first hour comes from the hour rollups, then its minute from that hour's minute rows,
    so the answer reads a few rows per name whatever the range."""
    if not ids:
        return None
    if store.backend == "clickhouse":
        first = rollup_reads.first_bucket(
            store,  # type: ignore[arg-type]
            _select(ids, HOUR, start_s // HOUR * HOUR, end_s, filters),
        )
        if first is None:
            return None
        low = max(first, start_s // 60 * 60)
        select = _select(ids, 60, low, min(first + HOUR, end_s), filters)
        minute = rollup_reads.first_bucket(store, select)  # type: ignore[arg-type]
        return max(start_s, minute if minute is not None else first)
    origin_ids = None
    if filters.any:
        origin_ids = _origin_ids(store, filters)
        if not origin_ids:
            return None
    first_hour = _first(store, HOUR, ids, start_s // HOUR * HOUR, end_s, origin_ids)
    if first_hour is None:
        return None
    low = max(first_hour, start_s // 60 * 60)
    minute = _first(store, 60, ids, low, min(first_hour + HOUR, end_s), origin_ids)
    return max(start_s, minute if minute is not None else first_hour)


def _first(
    store: SqlStore,
    stored: int,
    ids: dict[int, NameKey],
    start_s: int,
    end_s: int,
    origin_ids: list[int] | None,
) -> int | None:
    if origin_ids is None:
        table = rollup_source(store, schema.ROLLUP_TABLES[stored])
        where = [table.c.name_id.in_(list(ids))]
    else:
        table = rollup_source(store, schema.ORIGIN_ROLLUP_TABLES[stored])
        where = [table.c.name_id.in_(list(ids)), table.c.origin_id.in_(origin_ids)]
    query = sa.select(sa.func.min(table.c.bucket_start)).where(
        *where, table.c.bucket_start >= start_s, table.c.bucket_start < end_s
    )
    with store.read_engine.connect() as connection:
        found = connection.execute(query).scalar()
    return None if found is None else int(found)


def bucketed(
    store: SqlStore, ids: dict[int, NameKey], window: ChartWindow, filters: Filters
) -> dict[int, Merged]:
    """The names' rollups merged per chart bucket (hour rows when the bucket is whole hours)."""
    stored = HOUR if window.bucket_s % HOUR == 0 else 60
    merged: dict[int, Merged] = {}
    if not ids:
        return merged
    size = window.bucket_s
    if store.backend == "clickhouse":
        select = _select(ids, stored, window.start_s, window.end_s, filters, bucket_s=size)
        read = rollup_reads.merged(store, select)  # type: ignore[arg-type]
        return {int(key[0]): Merged.of(delta) for key, delta in read.items()}
    rows = _rows(store, ids, stored, window.start_s, window.end_s, filters)
    for _, start, count, errors, last_ns, flat in rows:
        bucket = start // size * size
        found = merged.get(bucket)
        if found is None:
            found = merged[bucket] = Merged()
        found.add(count, errors, last_ns, flat)
    return merged
