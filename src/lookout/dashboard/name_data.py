"""One name's charts from the rollups: hits, errors and percentiles per minute or hour, and
the weekday x hour heatmap. The cost follows the buckets shown, not the requests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lookout.dashboard.data import DAY, HOUR, name_id, now_s, quantiles
from lookout.store import schema
from lookout.store.clickhouse import queries as ch_queries
from lookout.store.delta_reads import rollup_source
from lookout.store.engine import SqlStore
from lookout.store.rollups import RollupDelta


def timeseries(
    store: SqlStore, kind: str, name: str, *, range_s: int = DAY, now_ns: int | None = None
) -> dict[str, Any]:
    """Hits, errors and percentiles per bucket: minutes up to a day, hours beyond."""
    bucket_s = 60 if range_s <= DAY else HOUR
    table = rollup_source(store, schema.rollups_minute if bucket_s == 60 else schema.rollups_hour)
    start = (now_s(now_ns) - range_s) // bucket_s * bucket_s
    if store.backend == "clickhouse":
        found = ch_queries.merged_rollups(
            store,  # type: ignore[arg-type]
            bucket_s=bucket_s,
            start_s=start,
            name=(kind, name),
            per_bucket=True,
        )
        return {"bucket_s": bucket_s, "points": [_point(t, d) for _, _, t, d in found]}
    ident = name_id(store, kind, name)
    points = []
    if ident is not None:
        query = (
            sa.select(table)
            .where(table.c.name_id == ident, table.c.bucket_start >= start)
            .order_by(table.c.bucket_start)
        )
        with store.read_engine.connect() as connection:
            for row in connection.execute(query):
                points.append(_point(int(row.bucket_start), RollupDelta.from_row(row)))
    return {"bucket_s": bucket_s, "points": points}


def _point(bucket_start: int, delta: RollupDelta) -> dict[str, Any]:
    return {
        "t": bucket_start,
        "count": delta.count,
        "errors": delta.errors,
        **quantiles(delta.sketch),
    }


def heatmap(
    store: SqlStore, kind: str, name: str, *, days: int = 28, now_ns: int | None = None
) -> dict[str, Any]:
    """Requests per weekday (Monday first) and hour of day, UTC, over the last ``days``."""
    grid = [[0] * 24 for _ in range(7)]
    start = now_s(now_ns) - days * DAY
    if store.backend == "clickhouse":
        for bucket, count in ch_queries.name_hour_counts(store, kind, name, start):  # type: ignore[arg-type]
            grid[(bucket // DAY + 3) % 7][(bucket % DAY) // HOUR] += count
        ident = None
    else:
        ident = name_id(store, kind, name)
    if ident is not None:
        hour = rollup_source(store, schema.rollups_hour)
        query = sa.select(hour.c.bucket_start, hour.c.count).where(
            hour.c.name_id == ident, hour.c.bucket_start >= start
        )
        with store.read_engine.connect() as connection:
            for bucket, count in connection.execute(query):
                weekday = (int(bucket) // DAY + 3) % 7  # 1970-01-01 was a Thursday
                grid[weekday][(int(bucket) % DAY) // HOUR] += int(count)
    return {
        "days": days,
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "counts": grid,
    }
