"""Origins (host, app version) and rollups per name, origin and minute / hour.

The new tables are filled from the raw events still stored (one name and hour at a time through the
``(name_id, start_ns)`` index, so an hour of one name's rows is in memory at once), so filters by
version and host answer for everything the store still holds as raw events. Hour rollups older
than the raw events' retention keep no origin: filtered views start where raw events start.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("lookout_origin_rollups_minute", "lookout_origin_rollups_hour")
_INSERT_CHUNK = 2000


def upgrade() -> None:
    op.create_table(
        "lookout_origins",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("app_version", sa.String(64), nullable=False),
        sa.Column("first_ns", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("host", "app_version", name="uq_lookout_origins"),
    )
    for name in _TABLES:
        op.create_table(
            name,
            sa.Column("name_id", sa.Integer, nullable=False, autoincrement=False),
            sa.Column("bucket_start", sa.BigInteger, nullable=False, autoincrement=False),
            sa.Column("count", sa.BigInteger, nullable=False),
            sa.Column("errors", sa.BigInteger, nullable=False),
            sa.Column("total_ns", sa.BigInteger, nullable=False),
            sa.Column("sumsq_ms2", sa.Double, nullable=False),
            sa.Column("min_ns", sa.BigInteger),
            sa.Column("max_ns", sa.BigInteger),
            sa.Column("last_ns", sa.BigInteger, nullable=False),
            sa.Column("sketch", sa.Text, nullable=False),
            sa.Column("origin_id", sa.Integer, nullable=False, autoincrement=False),
            sa.PrimaryKeyConstraint("name_id", "origin_id", "bucket_start", name=f"pk_{name}"),
        )
        op.create_index(f"ix_{name}_bucket", name, ["bucket_start"])
    _backfill()


def _backfill() -> None:
    """Origin rollups of the stored raw events (see the module's docstring)."""
    from lookout.store.rollups import aggregate, coarsen

    conn = op.get_bind()
    sources = sa.table(
        "lookout_sources", sa.column("id"), sa.column("host"), sa.column("app_version")
    )
    origin_by_key: dict[tuple[str, str], int] = {}
    origin_of_source: dict[int, int] = {}
    origins = sa.table(
        "lookout_origins",
        sa.column("id"),
        sa.column("host"),
        sa.column("app_version"),
        sa.column("first_ns"),
    )
    now_ns = time.time_ns()
    for source_id, host, version in conn.execute(sa.select(sources).order_by(sources.c.id)):
        key = (host, version)
        if key not in origin_by_key:
            conn.execute(sa.insert(origins).values(host=host, app_version=version, first_ns=now_ns))
            origin_by_key[key] = conn.execute(
                sa.select(origins.c.id).where(
                    origins.c.host == host, origins.c.app_version == version
                )
            ).scalar_one()
        origin_of_source[source_id] = origin_by_key[key]
    if not origin_of_source:
        return
    events = sa.table(
        "lookout_events",
        sa.column("name_id"),
        sa.column("start_ns"),
        sa.column("duration_ns"),
        sa.column("is_error"),
        sa.column("source_id"),
    )
    columns = (
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
        "origin_id",
    )
    tables = {
        seconds: sa.table(name, *(sa.column(c) for c in columns))
        for seconds, name in zip((60, 3600), _TABLES, strict=True)
    }
    name_ids = list(conn.execute(sa.text("SELECT id FROM lookout_names")).scalars())
    hour_ns = 3600 * 1_000_000_000
    for name_id in name_ids:
        of_name = events.c.name_id == name_id
        after = 0
        while True:
            # The next hour with events (a jump over gaps), read whole: every driver can run
            # the inserts between reads (an unbuffered MySQL result could not).
            first = conn.execute(
                sa.select(sa.func.min(events.c.start_ns)).where(of_name, events.c.start_ns >= after)
            ).scalar()
            if first is None:
                break
            hour_start = first // hour_ns * hour_ns
            after = hour_start + hour_ns
            found = conn.execute(
                sa.select(
                    events.c.start_ns, events.c.duration_ns, events.c.is_error, events.c.source_id
                ).where(of_name, events.c.start_ns >= hour_start, events.c.start_ns < after)
            )
            by_origin: dict[int, list[tuple[int, int, int, int]]] = {}
            for start_ns, duration_ns, is_error, source_id in found:
                by_origin.setdefault(origin_of_source[source_id], []).append(
                    (name_id, start_ns, duration_ns, is_error)
                )
            minute_rows, hour_rows = [], []
            for origin_id, rows in by_origin.items():
                minutes = aggregate(rows, 60)
                minute_rows += [_row(n, origin_id, s, d) for (n, s), d in minutes.items()]
                hour_rows += [
                    _row(n, origin_id, s, d) for (n, s), d in coarsen(minutes, 3600).items()
                ]
            for seconds, rows_of_table in ((60, minute_rows), (3600, hour_rows)):
                for chunk in range(0, len(rows_of_table), _INSERT_CHUNK):
                    conn.execute(
                        sa.insert(tables[seconds]), rows_of_table[chunk : chunk + _INSERT_CHUNK]
                    )


def _row(name_id: int, origin_id: int, start: int, delta: Any) -> dict[str, Any]:
    return {
        "name_id": name_id,
        "bucket_start": start,
        "count": delta.count,
        "errors": delta.errors,
        "total_ns": delta.total_ns,
        "sumsq_ms2": delta.sumsq_ms2,
        "min_ns": delta.min_ns,
        "max_ns": delta.max_ns,
        "last_ns": delta.last_ns,
        "sketch": delta.sketch.to_json(),
        "origin_id": origin_id,
    }


def downgrade() -> None:
    for name in _TABLES:
        op.drop_table(name)
    op.drop_table("lookout_origins")
