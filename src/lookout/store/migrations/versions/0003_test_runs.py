"""Test-suite runs, their tests' results and the endpoints each test hit (the pytest plugin).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lookout_test_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_key", sa.String(64), nullable=False),
        sa.Column("started_ns", sa.BigInteger, nullable=False),
        sa.Column("duration_ns", sa.BigInteger, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=False),
        sa.Column("branch", sa.String(255), nullable=False),
        sa.Column("dirty", sa.SmallInteger, nullable=False),
        sa.Column("ci_provider", sa.String(32), nullable=False),
        sa.Column("ci_run_id", sa.String(128), nullable=False),
        sa.Column("ci_url", sa.Text),
        sa.Column("python", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("exit_status", sa.Integer, nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("tests", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.UniqueConstraint("run_key", name="uq_lookout_test_runs_key"),
    )
    op.create_index("ix_lookout_test_runs_started", "lookout_test_runs", ["started_ns"])
    op.create_table(
        "lookout_test_results",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("setup_ns", sa.BigInteger, nullable=False),
        sa.Column("call_ns", sa.BigInteger, nullable=False),
        sa.Column("teardown_ns", sa.BigInteger, nullable=False),
        sa.Column("durations", sa.Text, nullable=False),
        sa.Column("worker", sa.String(32), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("traceback", sa.Text),
    )
    op.create_index("ix_lookout_test_results_run", "lookout_test_results", ["run_id"])
    op.create_index("ix_lookout_test_results_name", "lookout_test_results", ["name"])
    op.create_table(
        "lookout_test_endpoints",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("test", sa.String(255), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("durations", sa.Text, nullable=False),
    )
    op.create_index("ix_lookout_test_endpoints_run", "lookout_test_endpoints", ["run_id"])


def downgrade() -> None:
    op.drop_table("lookout_test_endpoints")
    op.drop_table("lookout_test_results")
    op.drop_table("lookout_test_runs")
