"""ClickHouse tables and materialized views, written for the 18.16 server and newer ones.

- ``lookout_events``: raw events, a MergeTree partitioned by UTC day (retention drops whole
  days) and ordered by (kind, name, start_ns), the order every dashboard question reads in:
  one name's events over a time range are one contiguous range of the table.
- ``lookout_rollups_minute`` / ``_hour``: AggregatingMergeTree tables filled by materialized
  views on every insert into ``lookout_events``. Each insert adds partial aggregate states and
  the server merges them in the background, so writers never read, lock or wait for a rollup
  row (the SQL store's ``SELECT ... FOR UPDATE`` is what capped it, issue 23). Readers finish
  the merge with the ``-Merge`` combinators.
- The latency sketch is the SQL store's own DDSketch (lookout.store.sketch): the view computes
  each duration's logarithmic bucket index and keeps ``sumMap`` states of bucket -> count, so
  percentiles read from ClickHouse are the same buckets, within the same 1 % relative error,
  and merge with the Python sketch unchanged.

Only features 18.16 has: no TTL clauses (retention is :mod:`.retention`), no DateTime64
(nanosecond times are Int64), no LowCardinality (sorted String columns compress as well here).
"""

from __future__ import annotations

import math

from lookout.store.sketch import GAMMA

SCHEMA_VERSION = 1
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
    traceback Nullable(String)
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
    last_ns AggregateFunction(max, Int64),{origin_states}
    sketch AggregateFunction(sumMap, Array(Int32), Array(UInt64))
) ENGINE = AggregatingMergeTree
PARTITION BY {partition}
ORDER BY (kind, name,{origin_keys} bucket_start)
"""

#: The sketch's bucket of a duration, as lookout.store.sketch.bucket_index computes it.
BUCKET_INDEX = (
    f"toInt32(if(duration_ns <= 1, 0, ceil(log(toFloat64(duration_ns)) * {1 / math.log(GAMMA)!r})))"
)

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
    maxState(start_ns) AS last_ns,{origin_states}
    sumMapState([{bucket_index}], [toUInt64(1)]) AS sketch
FROM {db}.lookout_events
GROUP BY kind, name,{origin_keys} bucket_start
"""
#: What the plain rollups leave out of the two templates above, and the origin rollups add.
_PLAIN = {"origin_columns": "", "origin_states": "", "origin_keys": ""}
_ORIGIN_TABLE = {
    "origin_columns": "\n    app_version String,\n    host String,",
    "origin_states": "\n    first_ns AggregateFunction(min, Int64),",
    "origin_keys": " app_version, host,",
}
_ORIGIN_VIEW = {**_ORIGIN_TABLE, "origin_states": "\n    minState(start_ns) AS first_ns,"}

#: Partitions: minute rollups by day (dropped with the raw events), hour rollups by month.
_PARTITIONS = {
    60: "toDate(toDateTime(bucket_start, 'UTC'))",
    3600: "toYYYYMM(toDateTime(bucket_start, 'UTC'))",
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
SKETCHES = {60: "lookout_sketch_minute", 3600: "lookout_sketch_hour"}
#: Tables dropped by day with the raw events, and by month with the hour rollups (retention).
DAY_TABLES = (ORIGIN_ROLLUPS[60], SKETCHES[60])
MONTH_TABLES = (ORIGIN_ROLLUPS[3600], SKETCHES[3600])

_SKETCH_DDL = """
CREATE TABLE IF NOT EXISTS {db}.{table} (
    kind String,
    name String,
    bucket_start UInt32,
    idx Int32,
    n UInt64
) ENGINE = SummingMergeTree
PARTITION BY {partition}
ORDER BY (kind, name, bucket_start, idx)
"""

_SKETCH_VIEW_DDL = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{table}_view TO {db}.{table} AS
SELECT
    kind,
    name,
    toUInt32(intDiv(start_ns, {bucket_ns}) * {seconds}) AS bucket_start,
    {bucket_index} AS idx,
    toUInt64(count()) AS n
FROM {db}.lookout_events
GROUP BY kind, name, bucket_start, idx
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
            bucket_index=BUCKET_INDEX,
            **view_parts,
        ),
    ]


def _dashboard_statements(database: str) -> list[str]:
    """The origin rollups and sketch rows with their views (after the raw events table)."""
    found = []
    for seconds in (60, 3600):
        found += _rollup_statements(
            database, ORIGIN_ROLLUPS[seconds], seconds, _ORIGIN_TABLE, _ORIGIN_VIEW
        )
        found += _rollup_statements(
            database, SKETCHES[seconds], seconds, {}, {}, _SKETCH_DDL, _SKETCH_VIEW_DDL
        )
    return found


def statements(database: str) -> list[str]:
    """Every statement that makes the schema, in order; each may run again harmlessly."""
    found = [f"CREATE DATABASE IF NOT EXISTS {database}", _EVENTS_DDL.format(db=database)]
    for seconds, table in ROLLUPS.items():
        found.extend(_rollup_statements(database, table, seconds, _PLAIN, _PLAIN))
    found.extend(_dashboard_statements(database))
    found.append(_VERSION_DDL.format(db=database))
    return found
