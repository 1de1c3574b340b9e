"""Read-side questions answered from the rollups (never by scanning raw events).

A summary over a window merges that window's rollup rows per name: counts and sums add, min
and max combine, latency sketches merge, so the answer costs one row per name per bucket
whatever the number of events. Windows shorter than a day read minute rollups; a day or more
reads hour rollups (whole hours, so the window's start is rounded down to the hour).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import select

from lookout.store.delta_reads import rollup_source
from lookout.store.engine import SqlStore
from lookout.store.rollups import RollupDelta
from lookout.store.schema import names, rollups_hour, rollups_minute

NS = 1_000_000_000
MINUTE_ROLLUPS_UP_TO_S = 86400


@dataclass(frozen=True, slots=True)
class NameSummary:
    """Aggregates of one monitored name over a window; durations in milliseconds."""

    kind: str
    name: str
    count: int
    errors: int
    mean_ms: float
    stdev_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    last_ns: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


def summarize(
    store: SqlStore,
    *,
    since_s: float = 3600.0,
    now_ns: int | None = None,
    kind: str | None = None,
) -> list[NameSummary]:
    """One summary per (kind, name) seen in the last ``since_s`` seconds, busiest first."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    bucket_s = 60 if since_s < MINUTE_ROLLUPS_UP_TO_S else 3600
    table = rollup_source(store, rollups_minute if bucket_s == 60 else rollups_hour)
    start_s = ((now_ns // NS) - int(since_s)) // bucket_s * bucket_s
    if store.backend == "clickhouse":
        from lookout.store.clickhouse.queries import merged_rollups

        found = merged_rollups(
            store,  # type: ignore[arg-type]
            bucket_s=bucket_s,
            start_s=start_s,
            kinds=None if kind is None else (kind,),
        )
        return _sorted([_summary(kind_, name, delta) for kind_, name, _, delta in found])
    query = (
        select(table, names.c.kind, names.c.name)
        .join(names, names.c.id == table.c.name_id)
        .where(table.c.bucket_start >= start_s)
    )
    if kind is not None:
        query = query.where(names.c.kind == kind)
    merged: dict[tuple[str, str], RollupDelta] = {}
    with store.read_engine.connect() as connection:
        for row in connection.execute(query):
            key = (row.kind, row.name)
            delta = RollupDelta.from_row(row)
            if key in merged:
                merged[key].merge(delta)
            else:
                merged[key] = delta
    return _sorted([_summary(kind_, name, delta) for (kind_, name), delta in merged.items()])


def _sorted(summaries: list[NameSummary]) -> list[NameSummary]:
    """Busiest first."""
    summaries.sort(key=lambda s: (-s.count, s.kind, s.name))
    return summaries


def _summary(kind: str, name: str, delta: RollupDelta) -> NameSummary:
    count = delta.count
    mean_ms = delta.total_ns / count / 1e6 if count else 0.0
    variance = delta.sumsq_ms2 / count - mean_ms * mean_ms if count else 0.0
    sketch = delta.sketch

    low_ns, high_ns = delta.min_ns or 0, delta.max_ns or 0

    def pct(q: float) -> float:
        # A sketch answers with its bucket's representative value, which may lie up to its
        # relative error beyond the extremes seen: a p50 above the max reads as a bug.
        value = sketch.quantile(q)
        return 0.0 if value is None else min(max(value, low_ns), high_ns) / 1e6

    return NameSummary(
        kind=kind,
        name=name,
        count=count,
        errors=delta.errors,
        mean_ms=mean_ms,
        stdev_ms=math.sqrt(max(variance, 0.0)),
        min_ms=(delta.min_ns or 0) / 1e6,
        max_ms=(delta.max_ns or 0) / 1e6,
        p50_ms=pct(0.50),
        p90_ms=pct(0.90),
        p95_ms=pct(0.95),
        p99_ms=pct(0.99),
        last_ns=delta.last_ns,
    )
