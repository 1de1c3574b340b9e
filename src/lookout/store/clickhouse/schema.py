"""ClickHouse tables and materialized views, written for the 18.16 server and newer ones.

- ``lookout_events``: raw events, a MergeTree partitioned by UTC day (retention drops whole
  days) and ordered by (kind, name, start_ns), the order every dashboard question reads in:
  one name's events over a time range are one contiguous range of the table.
- ``lookout_rollups_minute`` / ``_hour``: AggregatingMergeTree tables filled by materialized
  views on every insert into ``lookout_events``. Each insert adds partial aggregate states and
  the server merges them in the background, so writers never read, lock or wait for a rollup
  row (the SQL store's ``SELECT ... FOR UPDATE`` is what capped it, issue 23). Readers finish
  the merge with the ``-Merge`` combinators.
- The latency sketch is the SQL store's own DDSketch (lookout.store.sketch): the sketch views
  compute each duration's logarithmic bucket index and keep one row per bucket index with its
  count (:data:`SKETCHES`), so percentiles read from ClickHouse are the same buckets, within the
  same 1 % relative error, and merge with the Python sketch unchanged.

Every view costs each insert the server time to group the whole batch again (a view per table:
18.16 hangs on views fed by other views), so a table is kept only where a dashboard answer
needs it (:data:`OBSOLETE_TABLES`: those schema 1 had and no answer reads any more).

Only features 18.16 has: no TTL clauses (retention is :mod:`.retention`), no DateTime64
(nanosecond times are Int64), no LowCardinality (sorted String columns compress as well here).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from lookout.store.clickhouse.error_schema import (
    ERROR_BUCKETS,
    ERROR_COLUMNS,
    ERROR_GROUPS,
    error_statements,
)
from lookout.store.sketch import GAMMA

SCHEMA_VERSION = 2
EVENTS = "lookout_events"
ROLLUPS = {60: "lookout_rollups_minute", 3600: "lookout_rollups_hour"}

#: Raw event columns, in the order the writer sends them. Its own list, not derived from the
#: SQL store's: columns the SQL writer derives in the background (error groups) are not here.
EVENT_COLUMNS = (
    "kind",
    "name",
    "start_ns",
    "duration_ns",
    "is_error",
    "status",
    "host",
    "pid",
    "app_version",
    "request_id",
    "group_key",
    "client_ip",
    "tags",
    "fields",
    "error_type",
    "error_message",
    "traceback",
)

_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS {db}.lookout_events (
    kind String,
    name String,
    start_ns Int64,
    duration_ns Int64,
    is_error UInt8,
    status Nullable(Int32),
    host String,
    pid UInt32,
    app_version String,
    request_id Nullable(String),
    group_key Nullable(String),
    client_ip Nullable(String),
    tags Nullable(String),
    fields Nullable(String),
    error_type Nullable(String),
    error_message Nullable(String),
    traceback Nullable(String),
    error_group UInt32 DEFAULT 0,
    error_label String DEFAULT '',
    error_culprit String DEFAULT '',
    written_ns Int64 DEFAULT 0,
    sketch_idx Int32 DEFAULT {bucket_index}
) ENGINE = MergeTree
PARTITION BY toDate(toDateTime(intDiv(start_ns, 1000000000), 'UTC'))
ORDER BY (kind, name, start_ns)
"""

_ROLLUP_DDL = """
CREATE TABLE IF NOT EXISTS {db}.{table} (
    kind String,
    name String,{origin_columns}
    bucket_start UInt32,
    count AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    total_ns AggregateFunction(sum, Int64),
    sumsq_ms2 AggregateFunction(sum, Float64),
    min_ns AggregateFunction(min, Int64),
    max_ns AggregateFunction(max, Int64),
    last_ns AggregateFunction(max, Int64){last_state}
) ENGINE = AggregatingMergeTree
PARTITION BY {partition}
ORDER BY (kind, name, {order})
"""

#: The sketch's bucket of a duration, as lookout.store.sketch.bucket_index computes it.
BUCKET_INDEX = (
    f"toInt32(if(duration_ns <= 1, 0, ceil(log(toFloat64(duration_ns)) * {1 / math.log(GAMMA)!r})))"
)
#: ... computed once per event, as the insert stores it (a column whose DEFAULT is the index:
#: every view's block carries it), not once per view: 15 views read it (a tenth of an insert's
#: server time on 18.16), for about a byte per event on disk. DEFAULT, not MATERIALIZED: a
#: Distributed table computes the column and sends it on, which a shard refuses for a
#: MATERIALIZED one on 18.16.
SKETCH_INDEX = "sketch_idx"
SKETCH_COLUMNS = {SKETCH_INDEX: f"Int32 DEFAULT {BUCKET_INDEX}"}

_VIEW_DDL = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{table}_view TO {db}.{table} AS
SELECT
    kind,
    name,{origin_keys}
    toUInt32(intDiv(start_ns, {bucket_ns}) * {seconds}) AS bucket_start,
    countState() AS count,
    sumState(toUInt64(is_error)) AS errors,
    sumState(duration_ns) AS total_ns,
    sumState((duration_ns / 1e6) * (duration_ns / 1e6)) AS sumsq_ms2,
    minState(duration_ns) AS min_ns,
    maxState(duration_ns) AS max_ns,
    maxState(start_ns) AS last_ns{last_state}
FROM {db}.lookout_events
GROUP BY kind, name,{origin_keys} bucket_start
"""
#: What the plain and the origin rollups put in the two templates above. The origin rollups
#: also keep the origin's first event (the list of origins). Percentiles are the sketch rows':
#: schema 1's plain rollups also kept the sketch as a ``sumMap`` state, which no answer read
#: (merging it was most of a query's time on 18.16) and which cost every insert; a store made
#: then keeps that column and its view, unread.
_PLAIN = {"origin_columns": "", "origin_keys": "", "order": "bucket_start", "last_state": ""}
_ORIGIN_TABLE = {
    "origin_columns": "\n    app_version String,\n    host String,",
    "origin_keys": " app_version, host,",
    # version, then time: a version's range is one contiguous run of rows per name, and a
    # host filter still reads only the range asked (hosts are the last and fewest keys)
    "order": "app_version, bucket_start, host",
    "last_state": ",\n    first_ns AggregateFunction(min, Int64)",
}
_ORIGIN_VIEW = {**_ORIGIN_TABLE, "last_state": ",\n    minState(start_ns) AS first_ns"}
_VERSION_TABLE = {
    "origin_columns": "\n    app_version String,",
    "origin_keys": " app_version,",
    "order": "app_version, bucket_start",
}
_HOST_TABLE = {
    "origin_columns": "\n    host String,",
    "origin_keys": " host,",
    "order": "host, bucket_start",
}

#: Partitions: minute rollups by day (dropped with the raw events), hour rollups by month.
_PARTITIONS = {
    60: "toDate(toDateTime(bucket_start, 'UTC'))",
    300: "toDate(toDateTime(bucket_start, 'UTC'))",
    600: "toDate(toDateTime(bucket_start, 'UTC'))",
    3600: "toYYYYMM(toDateTime(bucket_start, 'UTC'))",
    86400: "toYYYYMM(toDateTime(bucket_start, 'UTC'))",
}

_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS {db}.lookout_schema_version (version UInt32, applied DateTime)
ENGINE = TinyLog
"""


# -- the dashboard's filters and fast percentiles (origin rollups, sketch rows) -------------------
#: Rollups per (kind, name, app version, host): the version and host filters, the per-version
#: and per-host comparisons, and the list of origins (``first_ns``: the host/version's first
#: event). Same states as the plain rollups, so a filtered answer is computed alike.
ORIGIN_ROLLUPS = {60: "lookout_origin_rollups_minute", 3600: "lookout_origin_rollups_hour"}
#: The latency sketch as rows, one per (kind, name, bucket, sketch bucket index) with its count,
#: summed by the server. Reading percentiles from here is a plain ``sum`` grouped by index,
#: where ``sumMapMerge`` of the rollups' map states is most of a query's time on 18.16 (132 ms
#: of a summary whose other states took 2-4 ms, docs/clickhouse.md).
#: Also per 10 minutes and per UTC day, so that a long range reads few rows: a day of 40 busy
#: names is about 5 million minute rows, 500,000 per 10 minutes; a week 850,000 hour rows,
#: 35,000 day rows. Readers cut a range into the coarsest whole buckets it holds.
SKETCHES = {
    60: "lookout_sketch_minute",
    600: "lookout_sketch_10min",
    3600: "lookout_sketch_hour",
    86400: "lookout_sketch_day",
}
#: The same per (app version, host), for percentiles with both filters (``sumMapMerge`` of
#: the origin rollups' states took 660 ms for one version over 24 hours at 10 million events).
#: No minute rows: per (name, version, host, minute, index) they were the largest and costliest
#: sketch table (a tenth of every insert's server time), for the rarest question. 5-minute rows
#: instead of 10-minute ones, so that every chart bucket from 5 minutes up (300, 600, 900,
#: 1,800 s: spans from 4 to 60 hours) reads whole rows; a range's ragged minutes, and charts
#: of 1- and 2-minute buckets (spans up to 8 hours), are counted from the raw events
#: (:data:`RAW_SKETCH`).
ORIGIN_SKETCHES = {
    300: "lookout_origin_sketch_5min",
    3600: "lookout_origin_sketch_hour",
    86400: "lookout_origin_sketch_day",
}
#: And per version only, per host only: a one-filter answer reads its own rows, not every
#: (version, host) of the range (a host's 7-day series was 385-548 ms from the origin rows).
VERSION_SKETCHES = {
    seconds: table.replace("_sketch_", "_version_sketch_") for seconds, table in SKETCHES.items()
}
HOST_SKETCHES = {
    seconds: table.replace("_sketch_", "_host_sketch_") for seconds, table in SKETCHES.items()
}
#: Tables dropped by day with the raw events, and by month with the hour rollups (retention).
_SKETCH_FAMILIES = (SKETCHES, ORIGIN_SKETCHES, VERSION_SKETCHES, HOST_SKETCHES)
DAY_TABLES = (
    ORIGIN_ROLLUPS[60],
    *(t[s] for t in _SKETCH_FAMILIES for s in (60, 300, 600) if s in t),
)
MONTH_TABLES: tuple[str, ...] = (
    ORIGIN_ROLLUPS[3600],
    *(t[s] for t in _SKETCH_FAMILIES for s in (3600, 86400)),
)
#: Tables of schema 1 that no answer reads: dropped, with their views, when a store opens.
OBSOLETE_TABLES = ("lookout_origin_sketch_minute", "lookout_origin_sketch_10min")

_SKETCH_DDL = """
CREATE TABLE IF NOT EXISTS {db}.{table} (
    kind String,
    name String,{origin_columns}
    bucket_start UInt32,
    idx Int32,
    n UInt64
) ENGINE = SummingMergeTree
PARTITION BY {partition}
ORDER BY (kind, name, {order}, idx)
SETTINGS index_granularity = 1024
"""

#: A range's sketch rows counted from the raw events, for a family without minute rows: the
#: same columns as a sketch table's, the same bucket index as the views compute.
RAW_SKETCH = (
    "SELECT kind, name, app_version, host, "
    "toUInt32(intDiv(start_ns, 60000000000) * 60) AS bucket_start, "
    f"{SKETCH_INDEX} AS idx, count() AS n FROM {{events}} WHERE {{where}} "
    "GROUP BY kind, name, app_version, host, bucket_start, idx"
)

_SKETCH_VIEW_DDL = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{table}_view TO {db}.{table} AS
SELECT
    kind,
    name,{origin_keys}
    toUInt32(intDiv(start_ns, {bucket_ns}) * {seconds}) AS bucket_start,
    {bucket_index} AS idx,
    toUInt64(count()) AS n
FROM {db}.lookout_events
GROUP BY kind, name,{origin_keys} bucket_start, idx
"""


def _rollup_statements(
    database: str,
    table: str,
    seconds: int,
    table_parts: dict[str, str],
    view_parts: dict[str, str],
    table_ddl: str = _ROLLUP_DDL,
    view_ddl: str = _VIEW_DDL,
) -> list[str]:
    """A rollup table of ``seconds`` buckets and the materialized view that fills it."""
    return [
        table_ddl.format(db=database, table=table, partition=_PARTITIONS[seconds], **table_parts),
        view_ddl.format(
            db=database,
            table=table,
            seconds=seconds,
            bucket_ns=seconds * 1_000_000_000,
            bucket_index=SKETCH_INDEX,
            **view_parts,
        ),
    ]


def _dashboard_statements(database: str) -> list[str]:
    """The origin rollups and sketch rows with their views (after the raw events table)."""
    found = []
    for seconds, table in ORIGIN_ROLLUPS.items():
        found += _rollup_statements(database, table, seconds, _ORIGIN_TABLE, _ORIGIN_VIEW)
    for seconds in (60, 300, 600, 3600, 86400):
        for tables, parts in (
            (SKETCHES, _PLAIN),
            (ORIGIN_SKETCHES, _ORIGIN_TABLE),
            (VERSION_SKETCHES, _VERSION_TABLE),
            (HOST_SKETCHES, _HOST_TABLE),
        ):
            if seconds not in tables:
                continue
            found += _rollup_statements(
                database, tables[seconds], seconds, parts, parts, _SKETCH_DDL, _SKETCH_VIEW_DDL
            )
    return found


def statements(database: str) -> list[str]:
    """Every statement that makes the schema, in order; each may run again harmlessly."""
    found = [
        f"CREATE DATABASE IF NOT EXISTS {database}",
        _EVENTS_DDL.format(db=database, bucket_index=BUCKET_INDEX),
    ]
    for seconds, table in ROLLUPS.items():
        found.extend(_rollup_statements(database, table, seconds, _PLAIN, _PLAIN))
    found.extend(_dashboard_statements(database))
    found += error_statements(database)
    found.append(_VERSION_DDL.format(db=database))
    return found


# -- error groups: their tables in lookout.store.clickhouse.error_schema -----------------------
#: Retention drops the groups' and buckets' month partitions with the hour rollups' (a group
#: then counts the months still kept; one silent for longer is gone).
MONTH_TABLES = (*MONTH_TABLES, ERROR_GROUPS, ERROR_BUCKETS)
#: When the writer sent the event's batch (its clock, ns): the order ``lookout watch``
#: follows the store in (lookout.store.clickhouse.tail), sent after :data:`ERROR_COLUMNS`.
WRITTEN_COLUMNS = {"written_ns": "Int64 DEFAULT 0"}


def upgrade_statements(database: str, columns: set[str]) -> list[str]:
    """The columns a store made before lacks (``columns``: its events table's; the error
    columns, ``written_ns``, ``sketch_idx``), to run before :func:`statements`' views. 18.16
    has no ``ADD COLUMN IF NOT EXISTS``."""
    return [
        f"ALTER TABLE {database}.{EVENTS} ADD COLUMN {column} {definition}"
        for column, definition in {**ERROR_COLUMNS, **WRITTEN_COLUMNS, **SKETCH_COLUMNS}.items()
        if columns and column not in columns
    ]


def obsolete_statements(database: str, tables: set[str]) -> list[str]:
    """What drops the :data:`OBSOLETE_TABLES` among ``tables`` (a store's) and their views,
    views first (an insert meanwhile then feeds neither)."""
    found = []
    for table in OBSOLETE_TABLES:
        if f"{table}_view" in tables:
            found.append(f"DROP TABLE IF EXISTS {database}.{table}_view")
        if table in tables:
            found.append(f"DROP TABLE IF EXISTS {database}.{table}")
    return found


def record_version(execute: Callable[[str], Any], table: str) -> None:
    """Note :data:`SCHEMA_VERSION` in ``table`` unless it is the latest noted there: one row per
    version the store has had, with when (what an operator reads to know what ran)."""
    latest, rows = execute(f"SELECT max(version), count() FROM {table}")[0]
    if not rows or int(latest) < SCHEMA_VERSION:
        execute(f"INSERT INTO {table} (version, applied) SELECT {SCHEMA_VERSION}, now()")


def add_column(execute: Callable[[str], Any], statement: str) -> None:
    """Run one of :func:`upgrade_statements`' ALTERs; a column another process added first
    (every worker of a fleet opens the store at once after an upgrade) is no error."""
    from clickhouse_driver.errors import ServerException

    try:
        execute(statement)
    except ServerException as error:
        if "already exists" not in str(error):
            raise


_MADE = re.compile(r"^\s*CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)\.(\w+)\s")


def made_by(found: Iterable[str]) -> set[tuple[str, str]]:
    """(database, name) of every table and view the statements ``found`` make (a store that
    has them all is made: opening it runs no DDL)."""
    return {(m.group(1), m.group(2)) for s in found if (m := _MADE.match(s))}
