"""The store's tables at the newest schema version (migrations build them step by step).

Durations and times are integers in nanoseconds so that nothing is rounded on the way in;
``sumsq_ms2`` (sum of squared durations in milliseconds) is a float because it only feeds the
standard deviation used for outlier detection. Names are bounded to 255 characters so that the
same indexes work on SQLite, PostgreSQL and MySQL/MariaDB.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: SQLite only auto-increments an ``INTEGER PRIMARY KEY``; elsewhere ids are 64-bit.
IdType = BigInteger().with_variant(Integer(), "sqlite")

#: Column order matches :class:`lookout.events.Event` so a row is built by slicing the tuple.
EVENT_COLUMNS = (
    "kind", "name", "start_ns", "duration_ns", "outcome", "status", "host", "pid",
    "app_version", "request_id", "group_key", "client_ip", "tags", "fields",
    "error_type", "error_message", "traceback",
)

events = Table(
    "lookout_events",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("duration_ns", BigInteger, nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("status", Integer),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("app_version", String(64)),
    Column("request_id", String(128)),
    Column("group_key", String(255)),
    Column("client_ip", String(64)),
    Column("tags", Text),
    Column("fields", Text),
    Column("error_type", String(255)),
    Column("error_message", Text),
    Column("traceback", Text),
    Index("ix_lookout_events_start", "start_ns"),
    Index("ix_lookout_events_kind_name_start", "kind", "name", "start_ns"),
)


def _rollup_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("kind", String(16), primary_key=True),
        Column("name", String(255), primary_key=True),
        Column("bucket_start", BigInteger, primary_key=True, autoincrement=False),
        Column("count", BigInteger, nullable=False),
        Column("errors", BigInteger, nullable=False),
        Column("total_ns", BigInteger, nullable=False),
        Column("sumsq_ms2", Double, nullable=False),
        Column("min_ns", BigInteger),
        Column("max_ns", BigInteger),
        Column("last_ns", BigInteger, nullable=False),
        Column("sketch", Text, nullable=False),
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
