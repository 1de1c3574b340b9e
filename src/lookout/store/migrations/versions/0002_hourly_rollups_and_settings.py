"""Hourly rollups (kept longer than minute rollups) and a key/value settings table.

The hourly table is filled from the existing minute rollups, so a database upgraded from
version 1 answers long-range queries over everything it had recorded.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_initial = importlib.import_module("lookout.store.migrations.versions.0001_initial")
_BACKFILL_CHUNK = 5000


def upgrade() -> None:
    _initial.create_rollup_table("lookout_rollups_hour")
    op.create_table(
        "lookout_settings",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
    )
    _backfill_hourly()


def _backfill_hourly() -> None:
    """Merge minute rows into hour rows in Python (sketches are JSON, so SQL cannot merge them)."""
    conn = op.get_bind()
    minute = sa.table(
        "lookout_rollups_minute",
        *(
            sa.column(c)
            for c in (
                "name_id",
                "bucket_start",
                "count",
                "errors",
                "total_ns",
                "sumsq_ms2",
                "min_ns",
                "max_ns",
                "last_ns",
                "sketch",
            )
        ),
    )
    hours: dict[tuple[int, int], dict[str, Any]] = {}
    for row in conn.execute(sa.select(minute)).mappings():
        key = (row["name_id"], row["bucket_start"] // 3600 * 3600)
        hour = hours.get(key)
        if hour is None:
            hour = hours[key] = {
                "name_id": key[0],
                "bucket_start": key[1],
                "count": 0,
                "errors": 0,
                "total_ns": 0,
                "sumsq_ms2": 0.0,
                "min_ns": None,
                "max_ns": None,
                "last_ns": 0,
                "buckets": {},
            }
        hour["count"] += row["count"]
        hour["errors"] += row["errors"]
        hour["total_ns"] += row["total_ns"]
        hour["sumsq_ms2"] += row["sumsq_ms2"]
        for bound, pick in (("min_ns", min), ("max_ns", max)):
            if row[bound] is not None:
                hour[bound] = row[bound] if hour[bound] is None else pick(hour[bound], row[bound])
        hour["last_ns"] = max(hour["last_ns"], row["last_ns"])
        flat = json.loads(row["sketch"] or "[]")  # [index, count, index, count, ...]
        for index, count in zip(flat[::2], flat[1::2], strict=True):
            hour["buckets"][index] = hour["buckets"].get(index, 0) + count
    rows = []
    for hour in hours.values():
        buckets = hour.pop("buckets")
        hour["sketch"] = json.dumps(
            [n for pair in buckets.items() for n in pair], separators=(",", ":")
        )
        rows.append(hour)
    hour_table = (
        sa.table("lookout_rollups_hour", *(sa.column(c) for c in rows[0])) if rows else None
    )
    for start in range(0, len(rows), _BACKFILL_CHUNK):
        conn.execute(sa.insert(hour_table), rows[start : start + _BACKFILL_CHUNK])  # type: ignore[arg-type]


def downgrade() -> None:
    op.drop_table("lookout_settings")
    op.drop_table("lookout_rollups_hour")
