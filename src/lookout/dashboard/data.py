"""What the dashboard shows, read from the store.

Counts and percentiles come from the rollups (one row per name and minute or hour, whatever
the traffic); questions the rollups cannot answer (per version, per user, status codes,
clients, outliers, tracked values) read raw events of one name through the
``(name_id, start_ns)`` index, newest first and bounded by ``RAW_LIMIT`` rows, and say so when
the bound was reached.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from lookout.store import schema
from lookout.store.clickhouse import queries as ch_queries
from lookout.store.engine import SqlStore
from lookout.store.profiles import call_tree
from lookout.store.queries import summarize
from lookout.store.rollups import RollupDelta
from lookout.store.sketch import LatencySketch

NS = 1_000_000_000
HOUR = 3600
DAY = 86400
#: Raw events read for one per-name question at most (newest first).
RAW_LIMIT = 20_000
#: Fields the Flask integration records itself; everything else is a tracked value.
BUILTIN_FIELDS = frozenset(
    {
        "method",
        "path",
        "rule",
        "response_bytes",
        "user_agent",
        "outlier",
        "profile",
        "profile_interval_ms",
        "profile_cpu_ms",
        "profile_source",
        "x_forwarded_for",
    }
)


def _now_s(now_ns: int | None) -> int:
    return (time.time_ns() if now_ns is None else now_ns) // NS


def name_id(store: SqlStore, kind: str, name: str) -> int | None:
    names = schema.names
    with store.read_engine.connect() as connection:
        found = connection.execute(
            sa.select(names.c.id).where(names.c.kind == kind, names.c.name == name)
        ).scalar()
    return None if found is None else int(found)


def _quantiles(sketch: LatencySketch) -> dict[str, float | None]:
    def ms(q: float) -> float | None:
        value = sketch.quantile(q)
        return None if value is None else round(value / 1e6, 3)

    return {"p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99)}


# -- overview ------------------------------------------------------------------------------------
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
    now_s = _now_s(now_ns)
    week_start = (now_s - 7 * DAY) // HOUR * HOUR
    hour, names = schema.rollups_hour, schema.names
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
            if bucket >= now_s - DAY:
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


# -- one name ------------------------------------------------------------------------------------
def timeseries(
    store: SqlStore, kind: str, name: str, *, range_s: int = DAY, now_ns: int | None = None
) -> dict[str, Any]:
    """Hits, errors and percentiles per bucket: minutes up to a day, hours beyond."""
    bucket_s = 60 if range_s <= DAY else HOUR
    table = schema.rollups_minute if bucket_s == 60 else schema.rollups_hour
    start = (_now_s(now_ns) - range_s) // bucket_s * bucket_s
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
        **_quantiles(delta.sketch),
    }


def heatmap(
    store: SqlStore, kind: str, name: str, *, days: int = 28, now_ns: int | None = None
) -> dict[str, Any]:
    """Requests per weekday (Monday first) and hour of day, UTC, over the last ``days``."""
    grid = [[0] * 24 for _ in range(7)]
    start = _now_s(now_ns) - days * DAY
    if store.backend == "clickhouse":
        for bucket, count in ch_queries.name_hour_counts(store, kind, name, start):  # type: ignore[arg-type]
            grid[(bucket // DAY + 3) % 7][(bucket % DAY) // HOUR] += count
        ident = None
    else:
        ident = name_id(store, kind, name)
    if ident is not None:
        hour = schema.rollups_hour
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


def _raw(
    store: SqlStore,
    kind: str,
    name: str,
    columns: list[Any],
    *,
    since_s: int,
    now_ns: int | None,
    where: Any = None,
    limit: int = RAW_LIMIT,
) -> list[Any]:
    now_s = _now_s(now_ns)
    if store.backend == "clickhouse":
        return ch_queries.raw(
            store,  # type: ignore[arg-type]
            kind,
            name,
            columns,
            since_ns=(now_s - since_s) * NS,
            where=where,
            limit=limit,
        )
    ident = name_id(store, kind, name)
    if ident is None:
        return []
    events = schema.events
    query = (
        sa.select(*columns)
        .select_from(events.join(schema.sources, schema.sources.c.id == events.c.source_id))
        .where(events.c.name_id == ident, events.c.start_ns >= (now_s - since_s) * NS)
        .order_by(events.c.start_ns.desc())
        .limit(limit)
    )
    if where is not None:
        query = query.where(where)
    with store.read_engine.connect() as connection:
        return list(connection.execute(query))


def _sampling(rows: list[Any]) -> dict[str, Any]:
    """How many raw events an answer read, and whether that was all of them."""
    return {"sampled": len(rows), "complete": len(rows) < RAW_LIMIT}


def _distribution(rows: Iterable[tuple[str, int, int]]) -> list[dict[str, Any]]:
    sketches: dict[str, LatencySketch] = defaultdict(LatencySketch)
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for key, duration_ns, is_error in rows:
        sketches[key].add(duration_ns)
        counts[key] += 1
        errors[key] += is_error
    return [
        {"key": key, "count": count, "errors": errors[key], **_quantiles(sketches[key])}
        for key, count in counts.most_common()
    ]


def by_version(
    store: SqlStore, kind: str, name: str, *, since_s: int = 7 * DAY, now_ns: int | None = None
) -> dict[str, Any]:
    """Latency distribution per app version."""
    e, s = schema.events, schema.sources
    rows = _raw(
        store,
        kind,
        name,
        [s.c.app_version, e.c.duration_ns, e.c.is_error],
        since_s=since_s,
        now_ns=now_ns,
    )
    return {
        "rows": _distribution((v or "(none)", d, x) for v, d, x in rows),
        **_sampling(rows),
    }


def by_group(
    store: SqlStore,
    kind: str,
    name: str,
    *,
    since_s: int = 7 * DAY,
    now_ns: int | None = None,
    top: int = 25,
) -> dict[str, Any]:
    """Latency distribution per user (or whatever ``group_by`` returned), busiest first."""
    e = schema.events
    rows = _raw(
        store,
        kind,
        name,
        [e.c.group_key, e.c.duration_ns, e.c.is_error],
        since_s=since_s,
        now_ns=now_ns,
        where=e.c.group_key.is_not(None),
    )
    return {
        "rows": _distribution(rows)[:top],
        **_sampling(rows),
    }


def statuses_and_clients(
    store: SqlStore,
    kind: str,
    name: str,
    *,
    since_s: int = DAY,
    now_ns: int | None = None,
    top: int = 20,
) -> dict[str, Any]:
    """Status codes and the busiest client addresses."""
    e = schema.events
    rows = _raw(store, kind, name, [e.c.status, e.c.client_ip], since_s=since_s, now_ns=now_ns)
    statuses = Counter(str(status) for status, _ in rows if status is not None)
    clients = Counter(ip for _, ip in rows if ip)
    return {
        "statuses": [{"status": k, "count": v} for k, v in sorted(statuses.items())],
        "clients": [{"client_ip": k, "count": v} for k, v in clients.most_common(top)],
        **_sampling(rows),
    }


def outliers(
    store: SqlStore,
    kind: str,
    name: str,
    *,
    since_s: int = 7 * DAY,
    now_ns: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The latest outliers with their request details and the stacks sampled while slow."""
    e = schema.events
    rows = _raw(
        store,
        kind,
        name,
        [e.c.start_ns, e.c.duration_ns, e.c.request_id, e.c.fields],
        since_s=since_s,
        now_ns=now_ns,
        where=e.c.fields.like('%"outlier":%'),
        limit=limit,
    )
    found = []
    for start_ns, duration_ns, request_id, fields in rows:
        details = json.loads(fields or "{}").get("outlier")
        if isinstance(details, dict):
            found.append(
                {
                    "start_ns": start_ns,
                    "duration_ms": duration_ns / 1e6,
                    "request_id": request_id,
                    **details,
                }
            )
    return found


def profile(
    store: SqlStore, name: str, *, since_s: int = DAY, now_ns: int | None = None
) -> dict[str, Any]:
    root, requests = call_tree(store, name, since_s=since_s, now_ns=now_ns)
    return {"requests": requests, "tree": root.to_dict()}


def tracked(
    store: SqlStore,
    kind: str,
    name: str,
    *,
    since_s: int = DAY,
    now_ns: int | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """The latest tracked values (``g`` variables, extra call data), one row per event."""
    e = schema.events
    rows = _raw(
        store,
        kind,
        name,
        [e.c.start_ns, e.c.request_id, e.c.group_key, e.c.fields, e.c.error_type],
        since_s=since_s,
        now_ns=now_ns,
        limit=limit,
    )
    columns: dict[str, None] = {}
    records = []
    for start_ns, request_id, group, fields, error_type in rows:
        recorded = json.loads(fields or "{}")
        tracked_g = recorded.pop("g", None)  # the Flask integration's tracked g variables
        values = {k: v for k, v in recorded.items() if k not in BUILTIN_FIELDS}
        if isinstance(tracked_g, dict):
            values = {**tracked_g, **values}
        columns.update(dict.fromkeys(values))
        records.append(
            {
                "start_ns": start_ns,
                "request_id": request_id,
                "group": group,
                "error_type": error_type,
                "values": values,
            }
        )
    return {"columns": list(columns), "rows": records}


# -- other pages ---------------------------------------------------------------------------------
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
        rows = _raw(
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
