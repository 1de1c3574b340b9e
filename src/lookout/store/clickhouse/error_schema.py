"""The error groups' tables in ClickHouse (the Errors page; lookout.store.clickhouse.errors).

The writer fingerprints each error event (lookout.store.fingerprint, in the sink's thread)
and stores the group in the event's row: ``error_group`` (a 31-bit number of the
fingerprint, 0 for events that are no error), ``error_label`` and ``error_culprit`` (what the
group's row shows). Materialized views aggregate those rows per group and month (count,
first and last seen, versions, the first message, users) and per group, hour, name, version
and host (counts), merged by the server like the rollups: no group row is ever updated.
A group's status (resolved, ignored) is mutable and lives in the SQL settings store.
"""

from __future__ import annotations

ERROR_GROUPS = "lookout_error_groups"
ERROR_BUCKETS = "lookout_error_buckets"
#: The event columns of error groups, sent by the writer after
#: :data:`lookout.store.clickhouse.schema.EVENT_COLUMNS`.
ERROR_COLUMNS = {
    "error_group": "UInt32 DEFAULT 0",
    "error_label": "String DEFAULT ''",
    "error_culprit": "String DEFAULT ''",
}

_ERROR_GROUPS_DDL = """
CREATE TABLE IF NOT EXISTS {db}.lookout_error_groups (
    group_id UInt32,
    month UInt32,
    count AggregateFunction(count),
    first_ns AggregateFunction(min, Int64),
    last_ns AggregateFunction(max, Int64),
    first_version AggregateFunction(argMin, String, Int64),
    last_version AggregateFunction(argMax, String, Int64),
    label AggregateFunction(any, String),
    culprit AggregateFunction(any, String),
    message AggregateFunction(argMin, String, Int64),
    users AggregateFunction(uniqIf, String, UInt8)
) ENGINE = AggregatingMergeTree
PARTITION BY month
ORDER BY group_id
"""

_ERROR_GROUPS_VIEW_DDL = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.lookout_error_groups_view
TO {db}.lookout_error_groups AS
SELECT
    error_group AS group_id,
    toYYYYMM(toDateTime(intDiv(start_ns, 1000000000), 'UTC')) AS month,
    countState() AS count,
    minState(start_ns) AS first_ns,
    maxState(start_ns) AS last_ns,
    argMinState(app_version, start_ns) AS first_version,
    argMaxState(app_version, start_ns) AS last_version,
    anyState(error_label) AS label,
    anyState(error_culprit) AS culprit,
    argMinState(substring(ifNull(error_message, ''), 1, 2000), start_ns) AS message,
    uniqIfState(ifNull(group_key, ''), ifNull(group_key, '') != '') AS users
FROM {db}.lookout_events
WHERE error_group != 0
GROUP BY group_id, month
"""

_ERROR_BUCKETS_DDL = """
CREATE TABLE IF NOT EXISTS {db}.lookout_error_buckets (
    group_id UInt32,
    bucket_start UInt32,
    kind String,
    name String,
    app_version String,
    host String,
    count UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(toDateTime(bucket_start, 'UTC'))
ORDER BY (group_id, bucket_start, kind, name, app_version, host)
"""

_ERROR_BUCKETS_VIEW_DDL = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.lookout_error_buckets_view
TO {db}.lookout_error_buckets AS
SELECT
    error_group AS group_id,
    toUInt32(intDiv(start_ns, 3600000000000) * 3600) AS bucket_start,
    kind,
    name,
    app_version,
    host,
    count() AS count
FROM {db}.lookout_events
WHERE error_group != 0
GROUP BY group_id, bucket_start, kind, name, app_version, host
"""


def error_statements(database: str) -> list[str]:
    """The error groups' tables and the views that fill them (after the events table)."""
    return [
        ddl.format(db=database)
        for ddl in (
            _ERROR_GROUPS_DDL,
            _ERROR_GROUPS_VIEW_DDL,
            _ERROR_BUCKETS_DDL,
            _ERROR_BUCKETS_VIEW_DDL,
        )
    ]
