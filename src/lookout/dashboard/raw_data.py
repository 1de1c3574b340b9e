"""One name's questions the rollups cannot answer (per version, per user, status codes,
clients, outliers, tracked values, profiles), from its raw events through the
``(name_id, start_ns)`` index (ClickHouse: its ``(kind, name, start_ns)`` order), newest first
and bounded by ``RAW_LIMIT`` rows; each answer says when the bound was reached."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from lookout.dashboard.data import DAY, NS, name_id, now_s, quantiles
from lookout.store import schema
from lookout.store.clickhouse import queries as ch_queries
from lookout.store.engine import SqlStore
from lookout.store.profiles import call_tree
from lookout.store.sketch import LatencySketch

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


def raw_events(
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
    now = now_s(now_ns)
    if store.backend == "clickhouse":
        return ch_queries.raw(
            store,  # type: ignore[arg-type]
            kind,
            name,
            columns,
            since_ns=(now - since_s) * NS,
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
        .where(events.c.name_id == ident, events.c.start_ns >= (now - since_s) * NS)
        .order_by(events.c.start_ns.desc())
        .limit(limit)
    )
    if where is not None:
        query = query.where(where)
    with store.read_engine.connect() as connection:
        return list(connection.execute(query))


def sampling(rows: list[Any]) -> dict[str, Any]:
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
        {"key": key, "count": count, "errors": errors[key], **quantiles(sketches[key])}
        for key, count in counts.most_common()
    ]


def by_version(
    store: SqlStore, kind: str, name: str, *, since_s: int = 7 * DAY, now_ns: int | None = None
) -> dict[str, Any]:
    """Latency distribution per app version."""
    e, s = schema.events, schema.sources
    rows = raw_events(
        store,
        kind,
        name,
        [s.c.app_version, e.c.duration_ns, e.c.is_error],
        since_s=since_s,
        now_ns=now_ns,
    )
    return {
        "rows": _distribution((v or "(none)", d, x) for v, d, x in rows),
        **sampling(rows),
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
    rows = raw_events(
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
        **sampling(rows),
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
    rows = raw_events(
        store, kind, name, [e.c.status, e.c.client_ip], since_s=since_s, now_ns=now_ns
    )
    statuses = Counter(str(status) for status, _ in rows if status is not None)
    clients = Counter(ip for _, ip in rows if ip)
    return {
        "statuses": [{"status": k, "count": v} for k, v in sorted(statuses.items())],
        "clients": [{"client_ip": k, "count": v} for k, v in clients.most_common(top)],
        **sampling(rows),
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
    rows = raw_events(
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
    rows = raw_events(
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
