"""The store's tables at the newest schema version (migrations build them step by step).

Durations and times are integers in nanoseconds so that nothing is rounded on the way in;
``sumsq_ms2`` (sum of squared durations in milliseconds) is a float because it only feeds the
standard deviation used for outlier detection. Names are bounded to 255 characters so that the
same indexes work on SQLite, PostgreSQL and MySQL/MariaDB.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``; elsewhere ids are 64-bit.
IdType = BigInteger().with_variant(Integer(), "sqlite")

#: Every distinct (kind, name): events and rollups refer to it by id, which keeps their rows
#: and indexes small (the difference is about a third of SQLite's insert time).
names = Table(
    "lookout_names",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    UniqueConstraint("kind", "name", name="uq_lookout_names_kind_name"),
)

#: Every distinct recording process: host, pid and application version ('' when unset).
sources = Table(
    "lookout_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("app_version", String(64), nullable=False),
    UniqueConstraint("host", "pid", "app_version", name="uq_lookout_sources"),
)

#: Columns of ``events`` in the order the writer fills them.
EVENT_COLUMNS = (
    "name_id",
    "start_ns",
    "duration_ns",
    "is_error",
    "status",
    "source_id",
    "request_id",
    "group_key",
    "client_ip",
    "tags",
    "fields",
    "error_type",
    "error_message",
    "traceback",
    "error_group_id",
)

#: Raw events. The one index is (name_id, start_ns): every read is per name and time range,
#: and pruning deletes per name; a second index on start_ns alone cost 15 % of insert speed.
events = Table(
    "lookout_events",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name_id", Integer, nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("duration_ns", BigInteger, nullable=False),
    Column("is_error", SmallInteger, nullable=False),
    Column("status", Integer),
    Column("source_id", Integer, nullable=False),
    Column("request_id", String(128)),
    Column("group_key", String(255)),
    Column("client_ip", String(64)),
    Column("tags", Text),
    Column("fields", Text),
    Column("error_type", String(255)),
    Column("error_message", Text),
    Column("traceback", Text),
    Column("error_group_id", Integer),
    Index("ix_lookout_events_name_start", "name_id", "start_ns"),
)


def _rollup_values() -> list[Column[Any]]:
    """The aggregate columns every rollup table has, after its key."""
    return [
        Column("count", BigInteger, nullable=False),
        Column("errors", BigInteger, nullable=False),
        Column("total_ns", BigInteger, nullable=False),
        Column("sumsq_ms2", Double, nullable=False),
        Column("min_ns", BigInteger),
        Column("max_ns", BigInteger),
        Column("last_ns", BigInteger, nullable=False),
        Column("sketch", Text, nullable=False),
    ]


def _rollup_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("name_id", Integer, primary_key=True, autoincrement=False),
        Column("bucket_start", BigInteger, primary_key=True, autoincrement=False),
        *_rollup_values(),
        Index(f"ix_{name}_bucket", "bucket_start"),
    )


#: Per name per minute; kept as long as raw events (``retention``).
rollups_minute = _rollup_table("lookout_rollups_minute")
#: Per name per hour; kept for ``rollup_retention`` (schema version 2).
rollups_hour = _rollup_table("lookout_rollups_hour")

#: Small key/value settings persisted in the store (schema version 2), e.g. monitoring levels.
settings = Table(
    "lookout_settings",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
)

ROLLUP_TABLES = {60: rollups_minute, 3600: rollups_hour}
#: The columns of every rollup table, in order.
ROLLUP_COLUMNS = tuple(column.name for column in rollups_minute.columns)

#: Test-suite runs recorded by the pytest plugin (schema version 3): one row per ``pytest``
#: session, with the identity that lets the Tests page and ``lookout tests compare`` line runs
#: up per version, commit and branch. ``run_key`` is the plugin's own id, so a run submitted
#: twice (a retried POST, ``lookout tests submit`` after a partial failure) is stored once.
test_runs = Table(
    "lookout_test_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_key", String(64), nullable=False),
    Column("started_ns", BigInteger, nullable=False),
    Column("duration_ns", BigInteger, nullable=False),
    Column("version", String(64), nullable=False),
    Column("git_commit", String(64), nullable=False),
    Column("branch", String(255), nullable=False),
    Column("dirty", SmallInteger, nullable=False),
    Column("ci_provider", String(32), nullable=False),
    Column("ci_run_id", String(128), nullable=False),
    Column("ci_url", Text),
    Column("python", String(32), nullable=False),
    Column("platform", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("exit_status", Integer, nullable=False),
    Column("repeat", Integer, nullable=False),
    Column("tests", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    UniqueConstraint("run_key", name="uq_lookout_test_runs_key"),
    Index("ix_lookout_test_runs_started", "started_ns"),
)

#: One row per test per run. ``durations`` is the JSON list of the call phase's durations in
#: nanoseconds, one per repeat (``--lookout-repeat N``); ``call_ns`` is their median.
test_results = Table(
    "lookout_test_results",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("setup_ns", BigInteger, nullable=False),
    Column("call_ns", BigInteger, nullable=False),
    Column("teardown_ns", BigInteger, nullable=False),
    Column("durations", Text, nullable=False),
    Column("worker", String(32), nullable=False),
    Column("message", Text),
    Column("traceback", Text),
    Index("ix_lookout_test_results_run", "run_id"),
    Index("ix_lookout_test_results_name", "name"),
)

#: The Flask endpoints each test hit (apps using LookoutFlask), with every request's duration.
test_endpoints = Table(
    "lookout_test_endpoints",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("test", String(255), nullable=False),
    Column("endpoint", String(255), nullable=False),
    Column("method", String(16), nullable=False),
    Column("durations", Text, nullable=False),
    Index("ix_lookout_test_endpoints_run", "run_id"),
)


#: Every distinct (host, app_version) that recorded events (schema version 4): the "origin"
#: the dashboard filters and compares by. Sources differ by pid as well, so a host running
#: many short-lived workers has many sources and one origin. ``first_ns`` orders versions by
#: when they were first seen (registration time).
origins = Table(
    "lookout_origins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(255), nullable=False),
    Column("app_version", String(64), nullable=False),
    Column("first_ns", BigInteger, nullable=False),
    UniqueConstraint("host", "app_version", name="uq_lookout_origins"),
)


def _origin_rollup_table(name: str) -> Table:
    """A rollup table keyed by (name, origin, bucket). ``origin_id`` is the last column so that
    a row read with ``select(table)`` starts with the plain rollup columns, in order
    (``RollupDelta.from_row``); the key puts it second, so that one origin's rows of a name
    are one index range."""
    return Table(
        name,
        metadata,
        Column("name_id", Integer, nullable=False, autoincrement=False),
        Column("bucket_start", BigInteger, nullable=False, autoincrement=False),
        *_rollup_values(),
        Column("origin_id", Integer, nullable=False, autoincrement=False),
        PrimaryKeyConstraint("name_id", "origin_id", "bucket_start", name=f"pk_{name}"),
        Index(f"ix_{name}_bucket", "bucket_start"),
    )


#: Per name, origin and minute / hour (schema version 4), kept like their plain counterparts.
origin_rollups_minute = _origin_rollup_table("lookout_origin_rollups_minute")
origin_rollups_hour = _origin_rollup_table("lookout_origin_rollups_hour")
ORIGIN_ROLLUP_TABLES = {60: origin_rollups_minute, 3600: origin_rollups_hour}
#: The columns of every origin rollup table, in order.
ORIGIN_ROLLUP_COLUMNS = tuple(column.name for column in origin_rollups_minute.columns)


#: Rollup deltas (schema version 6): on PostgreSQL and MySQL/MariaDB, a batch whose writer
#: does not hold the compactor lock appends its rollups here instead of merging them into the
#: rollup rows, so writers of one hot name never wait for each other's row locks; the
#: compactor (store/compaction.py) merges them into the rollup rows and deletes them in one
#: transaction, and readers merge rollup rows with the deltas not merged yet
#: (store/delta_reads.py). ``grain`` is 60 or 3600 (the minute or hour tables); ``origin_id``
#: 0 stands for the plain rollups (origin ids start at 1). No index beyond the key: the table
#: holds the few batches written since the last compaction, and every index costs inserts.
rollup_deltas = Table(
    "lookout_rollup_deltas",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("grain", Integer, nullable=False),
    Column("origin_id", Integer, nullable=False),
    Column("name_id", Integer, nullable=False, autoincrement=False),
    Column("bucket_start", BigInteger, nullable=False, autoincrement=False),
    *_rollup_values(),
)
#: The columns a writer fills, in order: the origin rollup columns, then the grain.
DELTA_COLUMNS = (*ORIGIN_ROLLUP_COLUMNS, "grain")


#: One row per error group (schema version 5): what a fingerprint (store/fingerprint.py) made
#: of the error events, kept by the writer with every batch, so that the Errors page reads a
#: few rows instead of scanning events. ``status`` is unresolved, resolved or ignored (set by
#: an admin, at ``status_ns``); an occurrence after a resolve reopens the group as a regression
#: (``regression`` 1, ``regressed_ns`` the occurrence's time). Events carry the group's id.
error_groups = Table(
    "lookout_error_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("error_type", String(255), nullable=False),
    Column("message", Text, nullable=False),
    Column("culprit", String(255), nullable=False),
    Column("first_ns", BigInteger, nullable=False),
    Column("last_ns", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("first_version", String(64), nullable=False),
    Column("last_version", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_ns", BigInteger, nullable=False),
    Column("regression", SmallInteger, nullable=False),
    Column("regressed_ns", BigInteger),
    UniqueConstraint("fingerprint", name="uq_lookout_error_groups_fingerprint"),
    Index("ix_lookout_error_groups_last", "last_ns"),
)

#: Occurrences per group, hour, name and origin (schema version 5): the list's count in a
#: range, its sparklines, "where it happens", and the group page's charts per version and host.
error_buckets = Table(
    "lookout_error_buckets",
    metadata,
    Column("group_id", Integer, nullable=False, autoincrement=False),
    Column("bucket_start", BigInteger, nullable=False, autoincrement=False),
    Column("name_id", Integer, nullable=False, autoincrement=False),
    Column("origin_id", Integer, nullable=False, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint(
        "group_id", "bucket_start", "name_id", "origin_id", name="pk_lookout_error_buckets"
    ),
    Index("ix_lookout_error_buckets_bucket", "bucket_start"),
)

#: The users (an event's ``group``) each error group affected, once each (schema version 5).
error_users = Table(
    "lookout_error_users",
    metadata,
    Column("group_id", Integer, nullable=False, autoincrement=False),
    Column("user_key", String(255), nullable=False),
    PrimaryKeyConstraint("group_id", "user_key", name="pk_lookout_error_users"),
)
