"""Version x user and version x host heatmaps of one endpoint or function.

Users are not a rollup dimension (there may be millions), so these read the name's newest raw
events through the ``(name_id, start_ns)`` index, bounded by ``RAW_LIMIT`` rows, and say
whether that was all of them (``complete``), as the detail page's per-user table does.
Each cell is a count and a median latency (from a sketch of the cell's durations).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa

from lookout.dashboard.report_data import Window, versions_in_order
from lookout.store import schema
from lookout.store.clickhouse import queries as ch_queries
from lookout.store.engine import SqlStore
from lookout.store.sketch import LatencySketch

NS = 1_000_000_000
RAW_LIMIT = 20_000
#: Users shown at most (the busiest); hosts are few and all shown.
TOP_USERS = 25


def version_heatmaps(store: SqlStore, kind: str, name: str, window: Window) -> dict[str, Any]:
    """``{"versions", "users": {...}, "hosts": {...}, "sampled", "complete"}``; each grid has
    ``columns`` (users or hosts) and per version a row of counts and of p50 milliseconds."""
    events, sources, names = schema.events, schema.sources, schema.names
    if store.backend == "clickhouse":
        rows: list[Any] = ch_queries.raw(
            store,  # type: ignore[arg-type]
            kind,
            name,
            ["app_version", "host", "group_key", "duration_ns"],
            since_ns=window.start_s * NS,
            where=f"start_ns < {int(window.end_s) * NS}",
            limit=RAW_LIMIT,
        )
        return _answer(store, rows)
    with store.read_engine.connect() as connection:
        ident = connection.execute(
            sa.select(names.c.id).where(names.c.kind == kind, names.c.name == name)
        ).scalar()
        rows = []
        if ident is not None:
            query = (
                sa.select(
                    sources.c.app_version, sources.c.host, events.c.group_key, events.c.duration_ns
                )
                .select_from(events.join(sources, sources.c.id == events.c.source_id))
                .where(
                    events.c.name_id == ident,
                    events.c.start_ns >= window.start_s * NS,
                    events.c.start_ns < window.end_s * NS,
                )
                .order_by(events.c.start_ns.desc())
                .limit(RAW_LIMIT)
            )
            rows = list(connection.execute(query))
    return _answer(store, rows)


def _answer(store: SqlStore, rows: list[Any]) -> dict[str, Any]:
    """The grids from (version, host, group, duration) rows, newest first."""
    present = {version for version, _, _, _ in rows}
    versions = [v for v in versions_in_order(store) if v in present]
    users = [u for u, _ in Counter(g for _, _, g, _ in rows if g).most_common(TOP_USERS)]
    hosts = sorted({host for _, host, _, _ in rows})
    return {
        "versions": versions,
        "users": _grid(versions, users, ((v, g, d) for v, _, g, d in rows)),
        "hosts": _grid(versions, hosts, ((v, h, d) for v, h, _, d in rows)),
        "sampled": len(rows),
        "complete": len(rows) < RAW_LIMIT,
    }


def _grid(versions: list[str], columns: list[str], cells: Any) -> dict[str, Any]:
    sketches: dict[tuple[str, str], LatencySketch] = {}
    wanted = set(columns)
    for version, column, duration in cells:
        if column in wanted:
            sketches.setdefault((version, column), LatencySketch()).add(duration)

    def p50(version: str, column: str) -> float | None:
        sketch = sketches.get((version, column))
        value = None if sketch is None else sketch.quantile(0.5)
        return None if value is None else round(value / 1e6, 3)

    return {
        "columns": columns,
        "counts": [
            [sketches[(v, c)].count if (v, c) in sketches else 0 for c in columns] for v in versions
        ],
        "p50_ms": [[p50(v, c) for c in columns] for v in versions],
    }
