"""A ClickHouse store made by an earlier schema, opened by this one (the real 18.16 server):
schema 1's unread per-(version, host) minute and 10-minute sketch rows are dropped with their
views, the 5-minute ones made, its plain
rollups (with their unread sketch state) keep working as they are, the events get the sketch
index column, the new version is noted, and every answer is still the SQL store's."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("clickhouse_driver")
pytest.importorskip("flask")

from lookout.dashboard import create_app
from lookout.sinks.sql import SqlSink
from lookout.store.clickhouse import schema
from lookout.store.clickhouse.sink import ClickHouseSink
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.clickhouse.url import parse
from tests.store.test_clickhouse_dashboard import _events
from tests.store.test_clickhouse_reads import _get

NS = 1_000_000_000

#: Schema 1's DDL of what schema 2 changed, as it shipped (frozen here: the current templates
#: no longer make it).
SCHEMA_1 = [
    """CREATE TABLE IF NOT EXISTS {db}.lookout_rollups_minute (
    kind String,
    name String,
    bucket_start UInt32,
    count AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    total_ns AggregateFunction(sum, Int64),
    sumsq_ms2 AggregateFunction(sum, Float64),
    min_ns AggregateFunction(min, Int64),
    max_ns AggregateFunction(max, Int64),
    last_ns AggregateFunction(max, Int64),
    sketch AggregateFunction(sumMap, Array(Int32), Array(UInt64))
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(toDateTime(bucket_start, 'UTC'))
ORDER BY (kind, name, bucket_start)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.lookout_rollups_minute_view TO {db}.lookout_rollups_minute AS
SELECT
    kind,
    name,
    toUInt32(intDiv(start_ns, 60000000000) * 60) AS bucket_start,
    countState() AS count,
    sumState(toUInt64(is_error)) AS errors,
    sumState(duration_ns) AS total_ns,
    sumState((duration_ns / 1e6) * (duration_ns / 1e6)) AS sumsq_ms2,
    minState(duration_ns) AS min_ns,
    maxState(duration_ns) AS max_ns,
    maxState(start_ns) AS last_ns,
    sumMapState([toInt32(if(duration_ns <= 1, 0,
        ceil(log(toFloat64(duration_ns)) * 49.99833328888678)))], [toUInt64(1)]) AS sketch
FROM {db}.lookout_events
GROUP BY kind, name, bucket_start""",
    """CREATE TABLE IF NOT EXISTS {db}.lookout_origin_sketch_minute (
    kind String,
    name String,
    app_version String,
    host String,
    bucket_start UInt32,
    idx Int32,
    n UInt64
) ENGINE = SummingMergeTree
PARTITION BY toDate(toDateTime(bucket_start, 'UTC'))
ORDER BY (kind, name, app_version, bucket_start, host, idx)
SETTINGS index_granularity = 1024""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.lookout_origin_sketch_minute_view
TO {db}.lookout_origin_sketch_minute AS
SELECT
    kind,
    name, app_version, host,
    toUInt32(intDiv(start_ns, 60000000000) * 60) AS bucket_start,
    toInt32(if(duration_ns <= 1, 0,
        ceil(log(toFloat64(duration_ns)) * 49.99833328888678))) AS idx,
    toUInt64(count()) AS n
FROM {db}.lookout_events
GROUP BY kind, name, app_version, host, bucket_start, idx""",
]


def _tables(store: ClickHouseStore) -> set[str]:
    return {
        str(name)
        for (name,) in store.execute(
            "SELECT name FROM system.tables WHERE database = %(db)s", {"db": store.database}
        )
    }


def schema_1_views(database: str) -> list[tuple[str, str]]:
    """(name, DDL) of the sketch views as schema 1 made them: today's, with the bucket index
    computed in each view (schema 1 had no ``sketch_idx`` column)."""
    found = []
    for statement in schema.statements(database):
        head = statement.strip().split("\n")[0]
        if head.startswith("CREATE MATERIALIZED VIEW") and schema.SKETCH_INDEX in statement:
            name = head.split()[6].split(".")[1]
            found.append((name, statement.replace(schema.SKETCH_INDEX, schema.BUCKET_INDEX)))
    return found


def _make_schema_1(url: str) -> None:
    """The store as schema 1 left it: no sketch index column, every sketch view computing the
    index itself, its plain minute rollups, its per-(version, host) minute and 10-minute sketch
    rows and no 5-minute ones, version 1 noted."""
    store = ClickHouseStore(url)
    db = store.database
    for table in ("lookout_rollups_minute_view", "lookout_rollups_minute"):
        store.execute(f"DROP TABLE {db}.{table}")
    for name, statement in schema_1_views(db):
        store.execute(f"DROP TABLE {db}.{name}")
        if "origin_sketch_5min" not in name:
            store.execute(statement)
    store.execute(f"DROP TABLE {db}.lookout_origin_sketch_5min")
    store.execute(f"ALTER TABLE {db}.{schema.EVENTS} DROP COLUMN {schema.SKETCH_INDEX}")
    for statement in SCHEMA_1:
        store.execute(statement.format(db=db))
    for statement in SCHEMA_1[2:4]:  # and its 10-minute rows
        ten = statement.replace("_minute", "_10min").replace(
            "60000000000) * 60", "600000000000) * 600"
        )
        store.execute(ten.format(db=db))
    store.execute(f"DROP TABLE {db}.lookout_schema_version")
    store.execute(
        f"CREATE TABLE {db}.lookout_schema_version (version UInt32, applied DateTime) "
        "ENGINE = TinyLog"
    )
    store.execute(f"INSERT INTO {db}.lookout_schema_version SELECT 1, now()")
    store.close()


def test_a_schema_1_store_drops_its_unread_tables_and_answers_as_the_sql_store(
    clickhouse_url: str, sqlite_url: str
) -> None:
    if parse(clickhouse_url).cluster:
        pytest.skip("one server's upgrade (the cluster's: test_clickhouse_cluster.py)")
    _make_schema_1(clickhouse_url)
    now_ns = time.time_ns() // (60 * NS) * 60 * NS + 30 * NS
    batch = _events(now_ns)
    sink = ClickHouseSink(clickhouse_url)  # opening the store upgrades it
    sink.write(batch)
    sink.close()
    sql = SqlSink(sqlite_url)
    sql.write(batch)
    sql.close()

    store = ClickHouseStore(clickhouse_url)
    tables = _tables(store)
    assert not {t for t in schema.OBSOLETE_TABLES for t in (t, f"{t}_view")} & tables
    assert {*schema.ORIGIN_SKETCHES.values(), *schema.SKETCHES.values()} <= tables
    assert "lookout_origin_sketch_10min" in schema.OBSOLETE_TABLES
    columns = store.execute(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s",
        {"db": store.database, "table": schema.EVENTS},
    )
    assert (schema.SKETCH_INDEX,) in columns
    versions = store.execute(f"SELECT version FROM {store.table('lookout_schema_version')}")
    assert sorted(v for (v,) in versions) == [1, schema.SCHEMA_VERSION]
    minute = store.table("lookout_rollups_minute")
    # schema 1's view still fills its table, unread sketch state included
    assert store.execute(f"SELECT sum(c) FROM (SELECT countMerge(count) AS c FROM {minute})")[0][
        0
    ] == len(batch)
    store.close()
    ClickHouseStore(clickhouse_url).close()  # opened again: nothing more to do, nothing noted
    store = ClickHouseStore(clickhouse_url)
    assert store.execute(f"SELECT count() FROM {store.table('lookout_schema_version')}") == [(2,)]
    store.close()

    ours = create_app(clickhouse_url, auth=False).test_client()
    theirs = create_app(sqlite_url, auth=False).test_client()
    now_s = now_ns // NS
    for window in (
        f"from={now_s - 3600}&to={now_s + 60}",
        f"from={now_s - 86400 - 1234}&to={now_s}",
    ):
        for answer in ("tiles", "series", "names"):
            path = f"overview/{answer}?{window}&version=2.0&host=web-1"
            assert _get(ours, path) == _get(theirs, path), path
