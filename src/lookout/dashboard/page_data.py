"""The Jobs, Metrics and System pages' data: supervised jobs' runs and latest run, custom
metrics per hour, and the store's size."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from lookout.dashboard.data import DAY, HOUR, NS
from lookout.dashboard.raw_data import RAW_LIMIT, raw_events
from lookout.store import schema
from lookout.store.clickhouse import queries as ch_queries
from lookout.store.engine import SqlStore
from lookout.store.queries import summarize


def jobs(
    store: SqlStore, *, since_s: int = 30 * DAY, now_ns: int | None = None
) -> list[dict[str, Any]]:
    """Supervised jobs: runs and failures over the window, and the latest run's details."""
    from lookout.store.tail import latest_runs

    stats = {s.name: s for s in summarize(store, since_s=since_s, now_ns=now_ns, kind="run")}
    rows = []
    for run in sorted(latest_runs(store), key=lambda r: r.name):
        summary = stats.get(run.name)
        rows.append(
            {
                "name": run.name,
                "runs": summary.count if summary else 0,
                "failures": summary.errors if summary else 0,
                "last_start_ns": run.start_ns,
                "last_duration_ms": run.duration_ns / 1e6,
                "last_outcome": run.outcome,
                "last_exit_code": run.status,
                "last_error": run.error_type and f"{run.error_type}: {run.error_message or ''}",
                "schedule": run.fields.get("schedule"),
                "summary": run.fields.get("summary"),
            }
        )
    return rows


def metrics(
    store: SqlStore, *, range_s: int = 7 * DAY, now_ns: int | None = None
) -> list[dict[str, Any]]:
    """Custom metrics (``add_metric``): count, sum, mean and max of their values per hour."""
    names, events = schema.names, schema.events
    with store.read_engine.connect() as connection:
        metric_names = (
            ch_queries.names_of_kind(store, "metric")  # type: ignore[arg-type]
            if store.backend == "clickhouse"
            else connection.execute(
                sa.select(names.c.name).where(names.c.kind == "metric").order_by(names.c.name)
            )
            .scalars()
            .all()
        )
    result = []
    for name in metric_names:
        rows = raw_events(
            store,
            "metric",
            name,
            [events.c.start_ns, events.c.fields],
            since_s=range_s,
            now_ns=now_ns,
        )
        buckets: dict[int, list[float]] = defaultdict(list)
        unit = None
        for start_ns, fields in rows:
            values = json.loads(fields or "{}")
            value = values.get("value")
            unit = unit or values.get("unit")
            if isinstance(value, (int, float)):
                buckets[start_ns // NS // HOUR * HOUR].append(float(value))
        points = [
            {"t": t, "count": len(v), "sum": sum(v), "mean": sum(v) / len(v), "max": max(v)}
            for t, v in sorted(buckets.items())
        ]
        result.append(
            {"name": name, "unit": unit, "points": points, "complete": len(rows) < RAW_LIMIT}
        )
    return result


def store_size(store: SqlStore) -> dict[str, Any]:
    """The store's size on disk and its row counts."""
    if store.backend == "clickhouse":
        return ch_queries.store_size(store)  # type: ignore[arg-type]
    counts = {}
    with store.read_engine.connect() as connection:
        for table in (schema.events, schema.rollups_minute, schema.rollups_hour, schema.names):
            counts[table.name] = int(
                connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0
            )
        size: int | None = None
        if store.backend == "sqlite" and store.url.database:
            path = store.url.database
            size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        elif store.backend == "postgresql":
            size = connection.execute(
                sa.text("SELECT pg_database_size(current_database())")
            ).scalar()
        elif store.backend in ("mysql", "mariadb"):
            size = connection.execute(
                sa.text(
                    "SELECT SUM(data_length + index_length) FROM information_schema.tables "
                    "WHERE table_schema = DATABASE()"
                )
            ).scalar()
    return {
        "backend": store.backend,
        "url": store.safe_url,
        "bytes": None if size is None else int(size),
        "rows": counts,
    }
