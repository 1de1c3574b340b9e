"""Per-host questions, from the origin rollups: the hosts seen, and one name per host.

The per-host sibling of the per-version comparison (``/api/names/<kind>/<name>/versions``):
the same counts, error counts and percentiles, one row per host, read from rollup rows (never
raw events), so the answer is exact whatever the traffic.
"""

from __future__ import annotations

import time
from typing import Any

from lookout.store.engine import SqlStore
from lookout.store.origin_queries import hosts, origin_rollups, versions


def filters(store: SqlStore) -> dict[str, list[str]]:
    """The values the ``version`` and ``host`` filters offer, first seen first."""
    return {"versions": versions(store), "hosts": hosts(store)}


def by_host(
    store: SqlStore,
    kind: str,
    name: str,
    *,
    since_s: int,
    version: str | None = None,
    now_s: int | None = None,
) -> dict[str, Any]:
    """One row per host for ``name`` over the last ``since_s`` seconds, busiest first."""
    now_s = int(time.time()) if now_s is None else now_s
    found = origin_rollups(
        store,
        start_s=now_s - since_s,
        end_s=now_s + 1,
        names_=[(kind, name)],
        version=version,
        group_by="host",
    )
    rows: list[dict[str, Any]] = []
    for row in found:
        sketch = row.delta.sketch

        def ms(q: float, sketch: Any = sketch) -> float | None:
            value = sketch.quantile(q)
            return None if value is None else round(value / 1e6, 3)

        rows.append(
            {
                "key": row.host or "",
                "count": row.delta.count,
                "errors": row.delta.errors,
                "p50_ms": ms(0.5),
                "p90_ms": ms(0.9),
                "p99_ms": ms(0.99),
            }
        )
    rows.sort(key=lambda r: (-r["count"], r["key"]))
    return {"rows": rows, "complete": True}
