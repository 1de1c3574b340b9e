"""Error groups: a group id on every error event, one row per group, hourly counts per group.

Events stored before this version keep no group (their ``error_group_id`` is NULL): the Errors
page starts with the errors written after the upgrade. Grouping the stored backlog would read
every error event's traceback during the upgrade, which on a large store takes longer than a
deploy should wait; the raw events stay readable in the explorer meanwhile.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ALTER TABLE ... ADD COLUMN everywhere: no copy of the events table
    op.add_column("lookout_events", sa.Column("error_group_id", sa.Integer))
    op.create_table(
        "lookout_error_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("error_type", sa.String(255), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("culprit", sa.String(255), nullable=False),
        sa.Column("first_ns", sa.BigInteger, nullable=False),
        sa.Column("last_ns", sa.BigInteger, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("first_version", sa.String(64), nullable=False),
        sa.Column("last_version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_ns", sa.BigInteger, nullable=False),
        sa.Column("regression", sa.SmallInteger, nullable=False),
        sa.Column("regressed_ns", sa.BigInteger),
        sa.UniqueConstraint("fingerprint", name="uq_lookout_error_groups_fingerprint"),
    )
    op.create_index("ix_lookout_error_groups_last", "lookout_error_groups", ["last_ns"])
    op.create_table(
        "lookout_error_buckets",
        sa.Column("group_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("bucket_start", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("name_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("origin_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "group_id", "bucket_start", "name_id", "origin_id", name="pk_lookout_error_buckets"
        ),
    )
    op.create_index("ix_lookout_error_buckets_bucket", "lookout_error_buckets", ["bucket_start"])
    op.create_table(
        "lookout_error_users",
        sa.Column("group_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("user_key", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "user_key", name="pk_lookout_error_users"),
    )


def downgrade() -> None:
    op.drop_table("lookout_error_users")
    op.drop_table("lookout_error_buckets")
    op.drop_table("lookout_error_groups")
    with op.batch_alter_table("lookout_events") as batch:
        batch.drop_column("error_group_id")
