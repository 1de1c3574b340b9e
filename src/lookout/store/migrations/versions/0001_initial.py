"""Initial schema: raw events and per-minute rollups.

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
        "lookout_events",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("duration_ns", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer),
        sa.Column("app_version", sa.String(64)),
        sa.Column("request_id", sa.String(128)),
        sa.Column("group_key", sa.String(255)),
        sa.Column("client_ip", sa.String(64)),
        sa.Column("tags", sa.Text),
        sa.Column("fields", sa.Text),
        sa.Column("error_type", sa.String(255)),
        sa.Column("error_message", sa.Text),
        sa.Column("traceback", sa.Text),
    )
    op.create_index("ix_lookout_events_start", "lookout_events", ["start_ns"])
    op.create_index(
        "ix_lookout_events_kind_name_start", "lookout_events", ["kind", "name", "start_ns"]
    )
    create_rollup_table("lookout_rollups_minute")


def create_rollup_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
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
    op.drop_table("lookout_rollups_minute")
    op.drop_table("lookout_events")
