"""The whole application at a glance: tiles, time series and per-name rows with Apdex.

Everything here merges rollup rows, never raw events, so the cost follows names x buckets,
not requests. Totals over a range are exact to the minute: whole hours inside the range are
read from the hour rollups and the ragged ends from the minute rollups. A version or host
filter reads the origin rollup tables instead of the plain ones, for the origins it keeps
(both hold the same counts and sketches), row by row like the plain ones rather than through
``origin_queries.origin_rollups`` (which makes a RollupDelta of every row: five times slower).

Apdex (Application Performance Index) is ``(satisfied + tolerating / 2) / count`` with
satisfied at most T and tolerating at most 4 T, read from the merged latency sketch (each
sketch bucket is judged by its representative value, within 1 % of its members). The rollups
keep no durations of failed events apart, so errors are judged by their duration like any
other event rather than counted frustrated.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from lookout.dashboard.window import ChartWindow, chart_window, round_ticks
from lookout.store import schema
from lookout.store.engine import SqlStore
from lookout.store.origin_queries import list_origins
from lookout.store.sketch import LatencySketch, bucket_value
from lookout.testruns import TEST_PREFIX

HOUR = 3600
#: Quantiles every answer carries.
QUANTILES = {"p50_ms": 0.5, "p75_ms": 0.75, "p95_ms": 0.95, "p99_ms": 0.99}
NameKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events count: only this app version / host (None: all)."""

    version: str | None = None
    host: str | None = None

    @property
    def any(self) -> bool:
        return self.version is not None or self.host is not None


@dataclass(frozen=True, slots=True)
class Apdex:
    """The Apdex threshold T in milliseconds, and per-name overrides."""

    threshold_ms: float = 500.0
    overrides: Mapping[str, float] = field(default_factory=dict)

    def of(self, name: str) -> float:
        return float(self.overrides.get(name, self.threshold_ms))


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


def apdex_score(sketch: LatencySketch, threshold_ms: float) -> float | None:
    """The Apdex of a sketch's events for threshold T (None when empty)."""
    if sketch.count == 0:
        return None
    t_ns = threshold_ms * 1e6
    satisfied = tolerating = 0
    for index, count in sketch.buckets.items():
        value = bucket_value(index)
        if value <= t_ns:
            satisfied += count
        elif value <= 4 * t_ns:
            tolerating += count
    return round((satisfied + tolerating / 2) / sketch.count, 4)


def _ms(sketch: LatencySketch, q: float) -> float | None:
    value = sketch.quantile(q)
    return None if value is None else round(value / 1e6, 3)


def quantiles(sketch: LatencySketch) -> dict[str, float | None]:
    return {key: _ms(sketch, q) for key, q in QUANTILES.items()}


# -- reading rollups -----------------------------------------------------------------------------
def name_ids(
    store: SqlStore, kinds: Collection[str], names_: Collection[NameKey] | None = None
) -> dict[int, NameKey]:
    """The ids of the names of ``kinds`` (the pytest plugin's tests left out: they have the
    Tests page), or of ``names_`` only."""
    names = schema.names
    wanted = None if names_ is None else set(names_)
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
        table = schema.ORIGIN_ROLLUP_TABLES[stored]
        where = [table.c.name_id.in_(list(ids)), table.c.origin_id.in_(origin_ids)]
    else:
        table = schema.ROLLUP_TABLES[stored]
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
    for stored, start, end in _segments(start_s, end_s):
        for key, _, count, errors, last_ns, flat in _rows(store, ids, stored, start, end, filters):
            found = merged.get(key)
            if found is None:
                found = merged[key] = Merged()
            found.add(count, errors, last_ns, flat)
    return merged


def first_data(
    store: SqlStore, ids: dict[int, NameKey], start_s: int, end_s: int, filters: Filters
) -> int | None:
    """The first minute in the range that holds data of ``ids`` (None: none).

    The first hour comes from the hour rollups, then its minute from that hour's minute rows,
    so the answer reads a few rows per name whatever the range."""
    if not ids:
        return None
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
        table = schema.ROLLUP_TABLES[stored]
        where = [table.c.name_id.in_(list(ids))]
    else:
        table = schema.ORIGIN_ROLLUP_TABLES[stored]
        where = [table.c.name_id.in_(list(ids)), table.c.origin_id.in_(origin_ids)]
    query = sa.select(sa.func.min(table.c.bucket_start)).where(
        *where, table.c.bucket_start >= start_s, table.c.bucket_start < end_s
    )
    with store.read_engine.connect() as connection:
        found = connection.execute(query).scalar()
    return None if found is None else int(found)


# -- answers -------------------------------------------------------------------------------------
def name_rows(
    store: SqlStore,
    kinds: Collection[str],
    start_s: int,
    end_s: int,
    *,
    filters: Filters = Filters(),
    apdex: Apdex = Apdex(),
    names_: Collection[NameKey] | None = None,
) -> list[dict[str, Any]]:
    """One row per name over the range: count, errors, error rate, p50/p75/p95/p99, Apdex
    (with the name's threshold) and last access; busiest first."""
    ids = name_ids(store, kinds, names_)
    rows: list[dict[str, Any]] = []
    for (kind, name), delta in per_name(store, ids, start_s, end_s, filters).items():
        threshold = apdex.of(name)
        rows.append(
            {
                "kind": kind,
                "name": name,
                "count": delta.count,
                "errors": delta.errors,
                "error_rate": round(delta.errors / delta.count, 4) if delta.count else None,
                **quantiles(delta.sketch),
                "apdex": apdex_score(delta.sketch, threshold),
                "apdex_t_ms": threshold,
                "last_ns": delta.last_ns,
            }
        )
    rows.sort(key=lambda r: (-r["count"], r["kind"], r["name"]))
    return rows


def _totals(found: dict[NameKey, Merged], apdex: Apdex) -> dict[str, float | int | None]:
    """Requests, calls, and the requests' error rate, p95 and Apdex (each name its own T)."""
    requests = Merged()
    calls = 0
    points = 0.0
    for (kind, name), delta in found.items():
        if kind == "call":
            calls += delta.count
        elif kind == "request":
            requests.merge(delta)
            score = apdex_score(delta.sketch, apdex.of(name))
            points += (score or 0.0) * delta.count
    count = requests.count
    return {
        "requests": count,
        "calls": calls,
        "error_rate": round(requests.errors / count, 4) if count else None,
        "p95_ms": _ms(requests.sketch, 0.95),
        "apdex": round(points / count, 4) if count else None,
    }


def tiles(
    store: SqlStore,
    start_s: int,
    end_s: int,
    *,
    filters: Filters = Filters(),
    apdex: Apdex = Apdex(),
) -> dict[str, Any]:
    """The overview's tiles over ``[start_s, end_s)`` and the previous range of equal length,
    each with its change (``delta`` = now - before; ``change`` = delta / before)."""
    length = end_s - start_s
    ids = name_ids(store, ("request", "call"))
    now = _totals(per_name(store, ids, start_s, end_s, filters), apdex)
    before = _totals(per_name(store, ids, start_s - length, start_s, filters), apdex)
    found = {}
    for key, value in now.items():
        previous = before[key]
        delta = None if value is None or previous is None else value - previous
        change = None if delta is None or not previous else round(delta / previous, 4)
        found[key] = {
            "value": value,
            "previous": previous,
            "delta": None if delta is None else round(delta, 4),
            "change": change,
        }
    return {
        "from": start_s,
        "to": end_s,
        "previous_from": start_s - length,
        "previous_to": start_s,
        "apdex_t_ms": apdex.threshold_ms,
        "tiles": found,
    }


def series(
    store: SqlStore,
    start_s: int,
    end_s: int,
    *,
    kind: str = "request",
    name: str | None = None,
    filters: Filters = Filters(),
) -> dict[str, Any]:
    """Traffic, errors and p50/p95/p99 per bucket for every name of ``kind`` (or one name),
    in the window :func:`lookout.dashboard.window.chart_window` picks for the data."""
    ids = name_ids(store, (kind,), None if name is None else [(kind, name)])
    window = chart_window(
        start_s, end_s, first_data_s=first_data(store, ids, start_s, end_s, filters)
    )
    buckets = bucketed(store, ids, window, filters)
    points = []
    for t in window.buckets:
        delta = buckets.get(t)
        if delta is None or delta.count == 0:  # a gap, not a zero drawn across it
            points.append(
                {"t": t, "count": None, "errors": None, "error_rate": None}
                | dict.fromkeys(QUANTILES)
            )
            continue
        points.append(
            {
                "t": t,
                "count": delta.count,
                "errors": delta.errors,
                "error_rate": round(delta.errors / delta.count, 4),
                **quantiles(delta.sketch),
            }
        )
    top_count = max((p["count"] or 0 for p in points), default=0)
    top_ms = max((p["p99_ms"] or 0 for p in points), default=0)
    return {
        "kind": kind,
        "name": name,
        "window": window.as_dict(),
        "points": points,
        "ticks": {"count": round_ticks(top_count, integer=True), "ms": round_ticks(top_ms)},
    }


def bucketed(
    store: SqlStore, ids: dict[int, NameKey], window: ChartWindow, filters: Filters
) -> dict[int, Merged]:
    """The names' rollups merged per chart bucket (hour rows when the bucket is whole hours)."""
    stored = HOUR if window.bucket_s % HOUR == 0 else 60
    merged: dict[int, Merged] = {}
    if not ids:
        return merged
    size = window.bucket_s
    rows = _rows(store, ids, stored, window.start_s, window.end_s, filters)
    for _, start, count, errors, last_ns, flat in rows:
        bucket = start // size * size
        found = merged.get(bucket)
        if found is None:
            found = merged[bucket] = Merged()
        found.add(count, errors, last_ns, flat)
    return merged
