"""What the dashboard's data modules share: a name's id in the SQL store, the clock, and
percentiles of a sketch in milliseconds.

The answers themselves live in one module per job: :mod:`.overview_data` (the overview
table), :mod:`.name_data` (one name's charts from the rollups), :mod:`.raw_data` (one name's
questions the rollups cannot answer, from its newest raw events) and :mod:`.page_data` (the
Jobs, Metrics and System pages).
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from lookout.store import schema
from lookout.store.engine import SqlStore
from lookout.store.sketch import LatencySketch

NS = 1_000_000_000
HOUR = 3600
DAY = 86400


def now_s(now_ns: int | None) -> int:
    return (time.time_ns() if now_ns is None else now_ns) // NS


def name_id(store: SqlStore, kind: str, name: str) -> int | None:
    names = schema.names
    with store.read_engine.connect() as connection:
        found = connection.execute(
            sa.select(names.c.id).where(names.c.kind == kind, names.c.name == name)
        ).scalar()
    return None if found is None else int(found)


def quantiles(sketch: LatencySketch) -> dict[str, float | None]:
    def ms(q: float) -> float | None:
        value = sketch.quantile(q)
        return None if value is None else round(value / 1e6, 3)

    return {"p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99)}
