"""The overview table: one row per name with its hits over the last hour, day and week,
percentiles and error rate over a window, last access and a week's hourly sparkline, read from
the hour rollups (counts only) and the store's summaries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from lookout.dashboard.data import DAY, HOUR, now_s
from lookout.store import schema
from lookout.store.clickhouse import queries as ch_queries
from lookout.store.delta_reads import rollup_source
from lookout.store.engine import SqlStore
from lookout.store.queries import summarize


def overview(
    store: SqlStore,
    *,
    kinds: Iterable[str] = ("request", "call"),
    window_s: int = DAY,
    now_ns: int | None = None,
) -> list[dict[str, Any]]:
    """One row per name: hits over the last hour, day and week, percentiles and error rate
    over ``window_s``, last access, and hourly counts of the last week (the sparkline)."""
    kinds = tuple(kinds)
    now = now_s(now_ns)
    week_start = (now - 7 * DAY) // HOUR * HOUR
    hour, names = rollup_source(store, schema.rollups_hour), schema.names
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    query = (
        sa.select(names.c.kind, names.c.name, hour.c.bucket_start, hour.c.count, hour.c.last_ns)
        .join(names, names.c.id == hour.c.name_id)
        .where(hour.c.bucket_start >= week_start, names.c.kind.in_(kinds))
    )
    with store.read_engine.connect() as connection:
        if store.backend == "clickhouse":
            hours: Iterable[Any] = ch_queries.hour_counts(store, kinds, week_start)  # type: ignore[arg-type]
        else:
            hours = connection.execute(query)
        for kind, name, bucket, count, last_ns in hours:
            row = counts.setdefault(
                (kind, name),
                {"hits_7d": 0, "hits_24h": 0, "last_ns": 0, "spark": [0] * (7 * 24 + 1)},
            )
            row["hits_7d"] += count
            if bucket >= now - DAY:
                row["hits_24h"] += count
            row["last_ns"] = max(row["last_ns"], last_ns)
            index = (bucket - week_start) // HOUR
            if 0 <= index < len(row["spark"]):
                row["spark"][index] += count
    last_hour = {(s.kind, s.name): s.count for s in summarize(store, since_s=HOUR, now_ns=now_ns)}
    window = {(s.kind, s.name): s for s in summarize(store, since_s=window_s, now_ns=now_ns)}
    rows = []
    for (kind, name), row in counts.items():
        summary = window.get((kind, name))
        rows.append(
            {
                "kind": kind,
                "name": name,
                "hits_1h": last_hour.get((kind, name), 0),
                "hits_24h": row["hits_24h"],
                "hits_7d": row["hits_7d"],
                "p50_ms": None if summary is None else round(summary.p50_ms, 3),
                "p90_ms": None if summary is None else round(summary.p90_ms, 3),
                "p99_ms": None if summary is None else round(summary.p99_ms, 3),
                "error_rate": None if summary is None else round(summary.error_rate, 4),
                "last_ns": row["last_ns"],
                "sparkline": row["spark"],
            }
        )
    rows.sort(key=lambda r: (-r["hits_24h"], r["kind"], r["name"]))
    return rows
