"""Rollup deltas: what writers that do not hold the compactor lock append instead of merging.

A new, empty table: nothing to backfill, and the rollup tables keep their rows and meaning
(a store's rollups are its rollup rows plus its deltas, and a store upgraded from version 5
has no deltas yet). Older Lookout processes still running beside upgraded ones keep merging
into the rollup rows under row locks, which the compactor also takes: both kinds of writer
stay exact side by side during a rolling deploy.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookout_rollup_deltas",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("grain", sa.Integer, nullable=False),
        sa.Column("origin_id", sa.Integer, nullable=False),
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
    )


def downgrade() -> None:
    op.drop_table("lookout_rollup_deltas")
