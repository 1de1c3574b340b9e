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

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from lookout.dashboard.app_rollups import (
    Filters,
    Merged,
    NameKey,
    bucketed,
    first_data,
    name_ids,
    per_name,
)
from lookout.dashboard.window import chart_window, round_ticks
from lookout.store.engine import SqlStore
from lookout.store.sketch import LatencySketch, bucket_value

HOUR = 3600
#: Quantiles every answer carries.
QUANTILES = {"p50_ms": 0.5, "p75_ms": 0.75, "p95_ms": 0.95, "p99_ms": 0.99}
#: Every event counts.
NO_FILTERS = Filters()


@dataclass(frozen=True, slots=True)
class Apdex:
    """The Apdex threshold T in milliseconds, and per-name overrides."""

    threshold_ms: float = 500.0
    overrides: Mapping[str, float] = field(default_factory=dict)

    def of(self, name: str) -> float:
        return float(self.overrides.get(name, self.threshold_ms))


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


# -- answers -------------------------------------------------------------------------------------
def name_rows(
    store: SqlStore,
    kinds: Collection[str],
    start_s: int,
    end_s: int,
    *,
    filters: Filters = NO_FILTERS,
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
    filters: Filters = NO_FILTERS,
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
    filters: Filters = NO_FILTERS,
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
