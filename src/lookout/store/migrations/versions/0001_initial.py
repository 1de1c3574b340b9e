"""Initial schema: names, sources, raw events and per-minute rollups.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lookout_names",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_lookout_names_kind_name"),
    )
    op.create_table(
        "lookout_sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("app_version", sa.String(64), nullable=False),
        sa.UniqueConstraint("host", "pid", "app_version", name="uq_lookout_sources"),
    )
    op.create_table(
        "lookout_events",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("name_id", sa.Integer, nullable=False),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("duration_ns", sa.BigInteger, nullable=False),
        sa.Column("is_error", sa.SmallInteger, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("source_id", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("group_key", sa.String(255)),
        sa.Column("client_ip", sa.String(64)),
        sa.Column("tags", sa.Text),
        sa.Column("fields", sa.Text),
        sa.Column("error_type", sa.String(255)),
        sa.Column("error_message", sa.Text),
        sa.Column("traceback", sa.Text),
    )
    op.create_index("ix_lookout_events_name_start", "lookout_events", ["name_id", "start_ns"])
    create_rollup_table("lookout_rollups_minute")


def create_rollup_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("name_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bucket_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("total_ns", sa.BigInteger, nullable=False),
        sa.Column("sumsq_ms2", sa.Double, nullable=False),
        sa.Column("min_ns", sa.BigInteger),
        sa.Column("max_ns", sa.BigInteger),
        sa.Column("last_ns", sa.BigInteger, nullable=False),
        sa.Column("sketch", sa.Text, nullable=False),
    )
    op.create_index(f"ix_{name}_bucket", name, ["bucket_start"])


def downgrade() -> None:
    for table in ("lookout_rollups_minute", "lookout_events", "lookout_sources", "lookout_names"):
        op.drop_table(table)
