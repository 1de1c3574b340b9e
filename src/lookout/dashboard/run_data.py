"""A supervised job's runs, one row each: when, how long, outcome, exit code, summary, error.

A job runs a few times an hour at most, so its page lists its latest runs from the raw events
of that one name, newest first, through the ``(name_id, start_ns)`` index and bounded by
``limit`` (the counts and percentiles above the list come from the rollups).
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from lookout.dashboard.data import name_id
from lookout.store import schema
from lookout.store.engine import SqlStore

NS = 1_000_000_000


def runs(
    store: SqlStore, name: str, start_s: int, end_s: int | None = None, *, limit: int = 200
) -> dict[str, Any]:
    """The job's runs in ``[start_s, end_s)``, newest first, at most ``limit``."""
    end_s = int(time.time()) + 1 if end_s is None else end_s
    ident = name_id(store, "run", name)
    rows: list[dict[str, Any]] = []
    if ident is None:
        return {"rows": rows, "complete": True}
    e, s = schema.events, schema.sources
    query = (
        sa.select(
            e.c.id,
            e.c.start_ns,
            e.c.duration_ns,
            e.c.is_error,
            e.c.status,
            e.c.fields,
            e.c.error_type,
            e.c.error_message,
            s.c.host,
            s.c.app_version,
        )
        .select_from(e.join(s, s.c.id == e.c.source_id))
        .where(e.c.name_id == ident, e.c.start_ns >= start_s * NS, e.c.start_ns < end_s * NS)
        .order_by(e.c.start_ns.desc())
        .limit(limit + 1)
    )
    with store.read_engine.connect() as connection:
        found = list(connection.execute(query))
    for row in found[:limit]:
        fields = json.loads(row.fields or "{}")
        summary = fields.get("summary")
        rows.append(
            {
                "id": int(row.id),
                "start_ns": int(row.start_ns),
                "duration_ms": round(row.duration_ns / 1e6, 3),
                "outcome": "error" if row.is_error else "ok",
                "exit_code": row.status,
                "summary": None if summary is None else str(summary),
                "error": row.error_type and f"{row.error_type}: {row.error_message or ''}",
                "host": row.host,
                "version": row.app_version or None,
            }
        )
    return {"rows": rows, "complete": len(found) <= limit}
