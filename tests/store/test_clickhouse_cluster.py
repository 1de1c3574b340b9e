"""The ClickHouse store on a cluster (``?cluster=NAME``): Debian's 18.16 servers on this machine,
two shards without ZooKeeper (DDL on every server through its own connection), and two
shards of two replicas with ZooKeeper (``ON CLUSTER`` DDL, Replicated tables). Writes go
through the Distributed table and land on both shards; the dashboard reads through the
Distributed tables and answers what it answers from the SQL store on the same events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("clickhouse_driver")
pytest.importorskip("flask")

from lookout import make_event
from lookout.dashboard import create_app
from lookout.dashboard.data_views import NAME_QUESTIONS
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store.clickhouse import cluster, errors, schema
from lookout.store.clickhouse.queries import store_size
from lookout.store.clickhouse.sink import ClickHouseSink
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.engine import StoreConfigError
from lookout.store.retention import prune
from tests.conftest import _unavailable
from tests.store.clickhouse_cluster import CLUSTER, ClickHouseCluster
from tests.store.clickhouse_server import ClickHouseServer, ServerUnavailable
from tests.store.test_clickhouse_errors import _error
from tests.store.test_clickhouse_reads import _events, _get
from tests.store.test_clickhouse_upgrade import SCHEMA_1
from tests.store.test_clickhouse_writers import spooling_lookout, wait_for_sink

NS = 1_000_000_000
DAY = 86_400


def _started(root: Path, **options: object) -> Iterator[ClickHouseCluster]:
    servers = ClickHouseCluster(root, **options)  # type: ignore[arg-type]
    try:
        servers.start()
    except ServerUnavailable as error:
        _unavailable("ClickHouse cluster", error)
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def two_shards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseCluster]:
    yield from _started(tmp_path_factory.mktemp("two-shards"), shards=2)


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseCluster]:
    yield from _started(tmp_path_factory.mktemp("replicas"), shards=2, replicas=2, zookeeper=True)


def _two_hosts(events: list[Event]) -> list[Event]:
    return [event._replace(host=("web-a", "web-b")[n % 2]) for n, event in enumerate(events)]


def _local_count(servers: ClickHouseCluster, index: int, database: str, where: str = "1") -> int:
    answer = servers.servers[index].query(
        f"SELECT count() FROM {database}_local.lookout_events WHERE {where}"
    )
    return int(answer.strip())


def test_ddl_is_derived_from_the_single_server_schema_for_every_table() -> None:
    local = cluster.local_statements("shop", replicate=True)
    assert len(local) == len(schema.statements("shop_local"))
    events = next(s for s in local if "shop_local.lookout_events (" in s)
    assert (
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/shop_local/lookout_events', "
        "'{replica}')" in events
    )
    hour = next(s for s in local if "TABLE IF NOT EXISTS shop_local.lookout_rollups_hour" in s)
    assert "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/" in hour
    views = [s for s in local if "MATERIALIZED VIEW" in s]
    assert views and all("FROM shop_local.lookout_events" in s for s in views)
    tables = [s.split(".")[1].split()[0] for s in schema.statements("x") if "CREATE TABLE" in s]
    distributed = cluster.distributed_statements("shop", "fleet")
    assert len(distributed) == 1 + len(tables)  # the database, then one per local table
    assert (
        "CREATE TABLE IF NOT EXISTS shop.lookout_events AS shop_local.lookout_events ENGINE = "
        "Distributed('fleet', 'shop_local', 'lookout_events', cityHash64(host, start_ns))"
    ) in distributed
    assert cluster.on_cluster(views[0], "fleet").startswith(
        "\nCREATE MATERIALIZED VIEW IF NOT EXISTS shop_local.lookout_rollups_minute_view "
        "ON CLUSTER fleet TO shop_local.lookout_rollups_minute"
    )
    assert cluster.replicated("CREATE TABLE IF NOT EXISTS a.b (x UInt8) ENGINE = TinyLog") == (
        "CREATE TABLE IF NOT EXISTS a.b (x UInt8) ENGINE = TinyLog"
    )
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/a/b', '{replica}', v)" in (
        cluster.replicated(
            "CREATE TABLE IF NOT EXISTS a.b (v UInt8) ENGINE = ReplacingMergeTree(v)"
        )
    )


def test_two_shards_hold_both_hosts_and_the_dashboard_sees_every_event(
    two_shards: ClickHouseCluster, tmp_path: Path, sqlite_url: str
) -> None:
    url = f"{two_shards.url('dash')}&settings=sqlite:///{tmp_path / 'settings.db'}"
    now_ns = time.time_ns()
    runs = [  # the Jobs page reads each job's latest run (LIMIT 1 BY) across the shards
        make_event(
            "run",
            f"nightly-{n % 2}",
            start_ns=now_ns - (30 - n) * 60 * NS,
            duration_ns=n * NS,
            status=n % 3,
            fields={"summary": {"rows": n}},
        )
        for n in range(20)
    ]
    batch = _two_hosts(_events(now_ns) + runs)
    for sink in (ClickHouseSink(url), SqlSink(sqlite_url)):
        sink.write(batch)
        sink.close()
    for host in ("web-a", "web-b"):  # each host's events on both shards, none lost or doubled
        per_shard = [_local_count(two_shards, n, "dash", f"host = '{host}'") for n in (0, 1)]
        assert min(per_shard) > 0 and sum(per_shard) == 1510, (host, per_shard)
    ours = create_app(url, auth=False).test_client()
    theirs = create_app(sqlite_url, auth=False).test_client()
    overview = _get(ours, "overview")["rows"]
    assert [(r["name"], r["hits_1h"]) for r in overview] == [("checkout", 2000), ("search", 1000)]
    assert overview == _get(theirs, "overview")["rows"]
    base = "names/request/checkout"
    for question in (*NAME_QUESTIONS, "timeseries?range=7d", "heatmap?days=1"):
        assert _get(ours, f"{base}/{question}") == _get(theirs, f"{base}/{question}"), question
    jobs = _get(ours, "jobs")["rows"]
    assert [(j["name"], j["runs"], j["summary"]) for j in jobs] == [
        ("nightly-0", 10, {"rows": 18}),
        ("nightly-1", 10, {"rows": 19}),
    ]
    assert jobs == _get(theirs, "jobs")["rows"]
    store = _get(ours, "system")["store"]
    assert store["rows"]["lookout_events"] == 3020 and store["bytes"] > 0
    assert "cluster=lookout_test" in store["url"]
    # the same URL through the other server answers the same
    other = f"{two_shards.url('dash', server=1)}&settings=sqlite:///{tmp_path / 'settings.db'}"
    assert _get(create_app(other, auth=False).test_client(), "overview")["rows"] == overview


def test_retention_drops_day_partitions_on_every_shard(
    two_shards: ClickHouseCluster, tmp_path: Path
) -> None:
    url = f"{two_shards.url('old')}&settings=sqlite:///{tmp_path / 'settings.db'}"
    now_ns = (time.time_ns() // (DAY * NS)) * DAY * NS + 12 * 3600 * NS
    sink = ClickHouseSink(url)
    sink.write(_events(now_ns) + _events(now_ns - 3 * DAY * NS))
    assert [_local_count(two_shards, n, "old") > 1000 for n in (0, 1)] == [True, True]
    trial = prune(sink.store, older_than_s=1.5 * DAY, now_ns=now_ns, dry_run=True)
    assert trial.events == 3000
    result = prune(sink.store, older_than_s=1.5 * DAY, now_ns=now_ns)
    assert result.events == 3000
    assert _local_count(two_shards, 0, "old") + _local_count(two_shards, 1, "old") == 3000
    sink.close()


def test_a_cluster_the_server_does_not_know_is_a_config_error(
    two_shards: ClickHouseCluster, tmp_path: Path
) -> None:
    url = two_shards.servers[0].url("nope") + f"?cluster=fleet&settings=sqlite:///{tmp_path}/s.db"
    with pytest.raises(StoreConfigError, match="no cluster 'fleet' in its remote_servers"):
        ClickHouseStore(url)
    forced = f"{two_shards.url('nope')}&replicated=true&settings=sqlite:///{tmp_path}/s.db"
    with pytest.raises(StoreConfigError, match="need ZooKeeper"):
        ClickHouseStore(forced)


EVENTS_HELD = "SELECT count() FROM {db}_local.lookout_events"
ROLLUPS_HELD = (
    "SELECT sum(c) FROM (SELECT countMerge(count) AS c FROM {db}_local.lookout_rollups_minute)"
)


def _replica_counts(
    servers: ClickHouseCluster, total: int, sql: str = EVENTS_HELD, *, db: str = "rep"
) -> list[int]:
    """Each server's answer to ``sql`` once both replicas of each shard agree (replicas fetch
    each other's parts in the background) and the shards add up to ``total``."""
    sql = sql.format(db=db)
    deadline = time.monotonic() + 30
    while True:
        found = [int(server.query(sql)) for server in servers.servers]
        agreed = found[0] == found[1] and found[2] == found[3] and found[0] + found[2] == total
        if agreed or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_replicated_tables_over_zookeeper_copy_each_shard_and_drop_a_repeated_batch(
    replicated: ClickHouseCluster, tmp_path: Path
) -> None:
    url = f"{replicated.url('rep')}&settings=sqlite:///{tmp_path / 'settings.db'}"
    store = ClickHouseStore(url)  # ON CLUSTER DDL: every server has every table
    engines = {
        server.query(
            "SELECT engine FROM system.tables WHERE database = 'rep_local' "
            "AND name = 'lookout_events'"
        ).strip()
        for server in replicated.servers
    }
    assert engines == {"ReplicatedMergeTree"}
    batch = _two_hosts(_events(time.time_ns()))
    sink = ClickHouseSink(store)
    sink.write(batch)
    sink.write(batch)  # a retried batch: the same blocks reach each shard, and are dropped
    counts = _replica_counts(replicated, 3000)
    assert counts[0] == counts[1] > 0 and counts[2] == counts[3] > 0, counts
    assert counts[0] + counts[2] == 3000
    assert _replica_counts(replicated, 3000, ROLLUPS_HELD) == counts  # the views' rows, alike
    rollups = "SELECT sum(c) FROM (SELECT countMerge(count) AS c FROM rep.lookout_rollups_minute)"
    assert int(store.execute(rollups)[0][0]) == 3000
    assert store.execute("SELECT count() FROM rep.lookout_events")[0][0] == 3000
    assert store_size(store)["rows"]["lookout_events"] == 3000  # one replica of each shard
    old = time.time_ns() - 3 * DAY * NS
    sink.write([event._replace(start_ns=old + n) for n, event in enumerate(batch[:100])])
    _replica_counts(replicated, 3100)  # partitions are listed on any one replica of each shard
    # listed through the server asked, one replica per shard, dropped ON CLUSTER
    assert prune(store, older_than_s=1.5 * DAY).events == 100
    assert _replica_counts(replicated, 3000) == counts  # the old day gone from every replica
    sink.close()
    assert CLUSTER in store.safe_url
    store.close()


def test_a_shard_down_fails_each_batch_whole_and_the_spool_replays_it(
    two_shards: ClickHouseCluster, tmp_path: Path
) -> None:
    """Synchronous distributed inserts: with a shard down the INSERT fails and (seen on
    18.16) leaves nothing on the live shard, so the sink's spool and replay stay exact."""
    url = f"{two_shards.url('down')}&settings=sqlite:///{tmp_path / 'settings.db'}"
    ClickHouseStore(url).close()
    lk = spooling_lookout(url, tmp_path / "spool")
    batch = _two_hosts(_events(time.time_ns()))
    two_shards.servers[1].stop()
    try:
        for event in batch:
            lk.emit(event)
        wait_for_sink(lk, lambda sink: sink["spooled"] >= len(batch), 30)
        assert _local_count(two_shards, 0, "down") == 0  # nothing half-written
    finally:
        two_shards.servers[1].start()
    wait_for_sink(lk, lambda sink: not sink["spool"]["depth"], 60)
    assert lk.close(30)
    counters = lk.stats()["sinks"]["clickhouse"]
    assert counters["spool"]["replayed"] == counters["spooled"] == 3000
    assert counters["failed"] == counters["dropped"] == 0
    per_shard = [_local_count(two_shards, n, "down") for n in (0, 1)]
    assert min(per_shard) > 0 and sum(per_shard) == 3000, per_shard


def test_a_replica_down_does_not_stop_writes_and_catches_up(
    replicated: ClickHouseCluster, tmp_path: Path
) -> None:
    url = f"{replicated.url('gap')}&settings=sqlite:///{tmp_path / 'settings.db'}"
    store = ClickHouseStore(url)
    sink = ClickHouseSink(store)
    replicated.servers[3].stop()  # the second replica of the second shard
    try:
        sink.write(_two_hosts(_events(time.time_ns())))  # to the live replica of each shard
        assert store.execute("SELECT count() FROM gap.lookout_events")[0][0] == 3000
    finally:
        replicated.servers[3].start()
    after = _replica_counts(replicated, 3000, db="gap")  # the restarted one fetched its share
    assert after[0] == after[1] > 0 and after[2] == after[3] > 0, after
    sink.close()
    store.close()


def _without_error_columns(servers: list[ClickHouseServer], database: str) -> None:
    """Each server's tables as a store made before the error columns had them."""
    for server in servers:
        for table in (f"{database}_local.lookout_events", f"{database}.lookout_events"):
            for column in (*schema.ERROR_COLUMNS, *schema.WRITTEN_COLUMNS):
                server.query(f"ALTER TABLE {table} DROP COLUMN {column}")


def _columns_everywhere(servers: ClickHouseCluster, database: str) -> set[int]:
    wanted = (*schema.ERROR_COLUMNS, *schema.WRITTEN_COLUMNS)
    return {
        int(
            server.query(
                "SELECT count() FROM system.columns WHERE table = 'lookout_events' "
                f"AND database IN ('{database}', '{database}_local') "
                f"AND name IN ({', '.join(repr(c) for c in wanted)})"
            )
        )
        for server in servers.servers
    }


@pytest.mark.parametrize("kind", ["two_shards", "replicated"])
def test_a_cluster_made_before_the_error_columns_is_upgraded_on_every_server(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Without ZooKeeper each server is upgraded through its own connection; with it, the
    ALTERs go ON CLUSTER (a replicated table's once per shard)."""
    servers: ClickHouseCluster = request.getfixturevalue(kind)
    url = f"{servers.url('up')}&settings=sqlite:///{tmp_path / 'settings.db'}"
    ClickHouseStore(url).close()
    first_replicas = servers.servers[:: servers.replicas]
    _without_error_columns(first_replicas, "up")  # replicated: the drop reaches the others
    others = [s for s in servers.servers if s not in first_replicas]
    for server in others:  # their Distributed tables are their own
        for column in (*schema.ERROR_COLUMNS, *schema.WRITTEN_COLUMNS):
            server.query(f"ALTER TABLE up.lookout_events DROP COLUMN {column}")
    deadline = time.monotonic() + 30
    while _columns_everywhere(servers, "up") != {0}:
        assert time.monotonic() < deadline, _columns_everywhere(servers, "up")
        time.sleep(0.2)
    sink = ClickHouseSink(url)  # opening the store upgrades every server
    sink.write([_error(time.time_ns())])
    sink.close()
    wanted = 2 * len({**schema.ERROR_COLUMNS, **schema.WRITTEN_COLUMNS})
    while _columns_everywhere(servers, "up") != {wanted}:
        assert time.monotonic() < deadline + 30, _columns_everywhere(servers, "up")
        time.sleep(0.2)
    store = ClickHouseStore(url)
    [group] = errors.groups(store)
    assert group.count == 1 and group.error_type == "OSError"
    store.close()


@pytest.mark.parametrize("kind", ["two_shards", "replicated"])
def test_a_schema_1_cluster_loses_its_unread_tables_on_every_server(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Schema 1's per-(version, host) minute sketch rows (local tables, replicated or not, their
    views, the Distributed tables over them) are dropped on every server when a store opens."""
    servers: ClickHouseCluster = request.getfixturevalue(kind)
    url = f"{servers.url('schema1')}&settings=sqlite:///{tmp_path / 'settings.db'}"
    ClickHouseStore(url).close()
    table, view = SCHEMA_1[2:4]
    for server in servers.servers:
        local = table.format(db="schema1_local")
        server.query(cluster.replicated(local) if servers.replicas > 1 else local)
        server.query(view.format(db="schema1_local"))
        server.query(
            "CREATE TABLE schema1.lookout_origin_sketch_minute AS "
            "schema1_local.lookout_origin_sketch_minute ENGINE = Distributed("
            f"'{CLUSTER}', 'schema1_local', 'lookout_origin_sketch_minute', rand())"
        )
    # and no sketch index column: on each shard's first replica (the drop replicates), and on
    # every server's Distributed table (its own)
    for server in servers.servers[:: servers.replicas]:
        server.query(f"ALTER TABLE schema1_local.lookout_events DROP COLUMN {schema.SKETCH_INDEX}")
    for server in servers.servers:
        server.query(f"ALTER TABLE schema1.lookout_events DROP COLUMN {schema.SKETCH_INDEX}")
    deadline = time.monotonic() + 30
    while _sketch_index_everywhere(servers) != {0}:
        assert time.monotonic() < deadline, _sketch_index_everywhere(servers)
        time.sleep(0.2)
    sink = ClickHouseSink(url)  # opening the store drops them everywhere, adds the column
    sink.write(_two_hosts(_events(time.time_ns())))
    sink.close()
    for server in servers.servers:
        left = server.query(
            "SELECT count() FROM system.tables WHERE database IN ('schema1', 'schema1_local') "
            "AND name LIKE 'lookout_origin_sketch_minute%'"
        )
        assert int(left) == 0
    while _sketch_index_everywhere(servers) != {2}:  # local and Distributed, every server
        assert time.monotonic() < deadline + 30, _sketch_index_everywhere(servers)
        time.sleep(0.2)
    store = ClickHouseStore(url)
    assert store.execute("SELECT count() FROM schema1.lookout_events")[0][0] == 3000
    versions = store.execute("SELECT version FROM schema1.lookout_schema_version")
    assert schema.SCHEMA_VERSION in {v for (v,) in versions}
    # the shards computed the index of the events sent through the upgraded Distributed table
    assert store.execute(
        f"SELECT count() FROM schema1.lookout_events WHERE {schema.SKETCH_INDEX} = "
        f"{schema.BUCKET_INDEX}"
    ) == [(3000,)]
    store.close()


def _sketch_index_everywhere(servers: ClickHouseCluster) -> set[int]:
    return {
        int(
            server.query(
                "SELECT count() FROM system.columns WHERE table = 'lookout_events' "
                f"AND database IN ('schema1', 'schema1_local') AND name = '{schema.SKETCH_INDEX}'"
            )
        )
        for server in servers.servers
    }
