"""A fleet's ingest, ClickHouse beside PostgreSQL: the same events, the same run.

Eight writer processes (spawned, one store connection each) write the same request events,
made before the clock starts, first into a PostgreSQL store and then into a ClickHouse store,
each through its own sink's ``write`` (what the Recorder's worker calls) in the batch size that
store's sink uses: 1,000 for SQL (the ``batch_size`` default), 20,000 for ClickHouse (its
``min_batch_size``). The clock runs from a barrier all writers pass together to the end of the
last writer's last batch; every count is checked exactly afterwards (raw rows and both rollup
tables). Then bytes on disk per request event, raw plus rollups: PostgreSQL's
``pg_total_relation_size`` of every Lookout table that holds events or rollups (indexes and
TOAST included), ClickHouse's ``bytes_on_disk`` of the active parts, before and after
``OPTIMIZE ... FINAL``.

With ``--cluster`` the same events go a third time into a ClickHouse cluster of two shards (two
servers on this machine, ``tests/store/clickhouse_cluster.py``) through its Distributed table,
with synchronous distributed inserts (``lookout.store.clickhouse.cluster``): on one machine this
shows what the Distributed layer costs, not what a second machine adds.

Events: 40 endpoint names, 3 versions, 8 hosts, 1,000 users, log-normal durations, 2 % errors
with a short traceback, 1 in 10 with tracked fields, spread over the last hour.

    nice -n 10 python benchmarks/fleet.py [--writers 8] [--events-per-writer 50000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--cluster] [--lz4]

ClickHouse is Debian's clickhouse-server (started here on free ports, data in a temp folder,
stopped at the end) with the settings Lookout recommends (deploy/clickhouse/lookout.xml: zstd
compression), or with ``--lz4`` the server's defaults; PostgreSQL is the machine's server, in a
database made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.store.clickhouse_server: the server launcher

from lookout import make_event  # noqa: E402
from lookout.events import Event  # noqa: E402
from lookout.store import compaction  # noqa: E402

NS = 1_000_000_000
SQL_BATCH = 1000
CLICKHOUSE_BATCH = 20_000
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def make_events(writer: int, count: int, now_ns: int) -> list[Event]:
    """This writer's events: the same for both stores (seeded by the writer's number)."""
    rng = random.Random(writer)
    names = [
        f"shop.{area}.{verb}"
        for area in ("cart", "item", "user", "search", "admin")
        for verb in ("list", "show", "create", "update", "delete", "export", "import", "sync")
    ]
    versions = ("1.4.2", "1.5.0", "1.5.1")
    made = []
    for n in range(count):
        failed = rng.random() < 0.02
        made.append(
            make_event(
                "request",
                names[min(int(rng.paretovariate(1.2)) - 1, len(names) - 1)],
                start_ns=now_ns - rng.randrange(0, 3600 * NS),
                duration_ns=int(rng.lognormvariate(16.0, 0.9)),
                status=500 if failed else rng.choice((200, 200, 200, 201, 204, 302, 404)),
                error=RuntimeError(f"upstream timeout after {rng.randrange(1000)} ms")
                if failed
                else None,
                app_version=versions[rng.randrange(3)],
                request_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                group=f"user-{rng.randrange(1000)}",
                client_ip=f"10.{writer}.{rng.randrange(256)}.{rng.randrange(256)}",
                fields={"method": "GET", "cart_items": rng.randrange(10)} if n % 10 == 0 else None,
            )._replace(host=f"web-{writer}", pid=1000 + writer)
        )
    return made


def _writer(
    store: str, url: str, writer: int, count: int, now_ns: int, barrier: Any, results: Any
) -> None:
    from lookout.sinks.sql import SqlSink
    from lookout.store.clickhouse.sink import ClickHouseSink

    events = make_events(writer, count, now_ns)
    sink = ClickHouseSink(url) if store == "clickhouse" else SqlSink(url)
    sink.store  # noqa: B018 - opened (and the schema checked) before the clock starts
    size = CLICKHOUSE_BATCH if store == "clickhouse" else SQL_BATCH
    barrier.wait()
    started = time.perf_counter()
    latencies = []
    for first in range(0, len(events), size):
        began = time.perf_counter()
        sink.write(events[first : first + size])
        latencies.append(time.perf_counter() - began)
    finished = time.perf_counter()
    sink.close()
    latencies.sort()
    results.put(
        {
            "writer": writer,
            "started": started,
            "finished": finished,
            "batches": len(latencies),
            "p99_batch_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        }
    )


def ingest(store: str, url: str, writers: int, per_writer: int, now_ns: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_writer, args=(store, url, n, per_writer, now_ns, barrier, results))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait()  # every writer has made its events and opened its store
    found = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join(60)
        assert process.exitcode == 0, f"a {store} writer failed"
    wall = max(r["finished"] for r in found) - min(r["started"] for r in found)
    total = writers * per_writer
    return {
        "events": total,
        "seconds": wall,
        "events_per_s": total / wall,
        "batches_per_s": sum(r["batches"] for r in found) / wall,
        "p99_batch_ms": max(r["p99_batch_ms"] for r in found),
    }


def postgres_counts_and_bytes(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    compaction.compact(engine)  # the rollup rows alone below: no delta left pending
    with engine.connect() as connection:
        counts = {
            table: int(connection.execute(sa.text(query)).scalar() or 0)
            for table, query in (
                ("raw", "SELECT count(*) FROM lookout_events"),
                ("minute", "SELECT sum(count) FROM lookout_rollups_minute"),
                ("hour", "SELECT sum(count) FROM lookout_rollups_hour"),
            )
        }
        sizes = dict(
            connection.execute(
                sa.text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind = 'r' "
                    "AND (c.relname = 'lookout_events' OR c.relname LIKE '%rollups%' "
                    "OR c.relname IN ('lookout_names', 'lookout_sources', 'lookout_origins'))"
                )
            ).all()
        )
    engine.dispose()
    return {"counts": counts, "bytes": {k: int(v) for k, v in sizes.items()}}


def clickhouse_counts_and_bytes(
    url: str, *, optimize: bool, servers: list[Any] | None = None
) -> dict[str, Any]:
    """Exact counts (through the Distributed tables on a cluster) and bytes on disk of the
    active parts (of every shard's local tables on a cluster: ``servers``)."""
    from lookout.store.clickhouse import cluster
    from lookout.store.clickhouse.store import ClickHouseStore

    store = ClickHouseStore(url)
    names = ("lookout_events", "lookout_rollups_minute", "lookout_rollups_hour")
    events, minute, hour = (store.table(name) for name in names)
    if optimize:
        for name in names:
            if servers is None:
                store.execute(f"OPTIMIZE TABLE {store.table(name)} FINAL")
            for server in servers or ():
                server.query(
                    f"OPTIMIZE TABLE {cluster.local_database(store.database)}.{name} FINAL"
                )
    counts = {
        "raw": store.execute(f"SELECT count() FROM {events}")[0][0],
        "minute": store.execute(
            f"SELECT sum(c) FROM (SELECT countMerge(count) AS c FROM {minute})"
        )[0][0],
        "hour": store.execute(f"SELECT sum(c) FROM (SELECT countMerge(count) AS c FROM {hour})")[0][
            0
        ],
    }
    if servers is not None:
        sizes = {table: size for table, (_, size) in cluster.sizes(store).items()}
    else:
        sizes = dict(
            store.execute(
                "SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = %(db)s "
                "AND active GROUP BY table",
                {"db": store.database},
            )
        )
    store.close()
    return {
        "counts": {k: int(v) for k, v in counts.items()},
        "bytes": {k: int(v) for k, v in sizes.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--events-per-writer", type=int, default=50_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument(
        "--cluster", action="store_true", help="also into a 2-shard ClickHouse cluster"
    )
    parser.add_argument(
        "--lz4",
        action="store_true",
        help="ClickHouse with its default compression, not deploy/clickhouse/lookout.xml's zstd",
    )
    args = parser.parse_args()
    from tests.store.clickhouse_cluster import ClickHouseCluster
    from tests.store.clickhouse_server import ClickHouseServer

    total = args.writers * args.events_per_writer
    now_ns = time.time_ns()
    database = f"lookout_fleet_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        args.postgres.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {database}"))
    postgres_url = str(
        sa.engine.make_url(args.postgres)
        .set(database=database)
        .render_as_string(hide_password=False)
    )
    server = ClickHouseServer(
        Path(tempfile.mkdtemp(prefix="lookout-fleet-")), recommended=not args.lz4
    )
    server.start()
    shards = None
    if args.cluster:
        shards = ClickHouseCluster(Path(server.root, "cluster"), shards=2, recommended=not args.lz4)
    if shards is not None:
        shards.start()
    report: dict[str, Any] = {
        "writers": args.writers,
        "events": total,
        "clickhouse_compression": "lz4" if args.lz4 else "zstd",
    }
    try:
        settings = Path(server.root, "settings.db")
        clickhouse_url = f"{server.url('fleet')}?settings=sqlite:///{settings}"
        from lookout.sinks.sql import SqlSink
        from lookout.store.clickhouse.store import ClickHouseStore

        SqlSink(postgres_url).store.close()  # schemas first: the writers do not race to make them
        ClickHouseStore(clickhouse_url).close()
        print(f"{args.writers} writers x {args.events_per_writer:,} request events into each store")
        report["postgresql"] = ingest(
            "postgresql", postgres_url, args.writers, args.events_per_writer, now_ns
        )
        report["postgresql"].update(postgres_counts_and_bytes(postgres_url))
        report["clickhouse"] = ingest(
            "clickhouse", clickhouse_url, args.writers, args.events_per_writer, now_ns
        )
        report["clickhouse"].update(clickhouse_counts_and_bytes(clickhouse_url, optimize=False))
        report["clickhouse_optimized"] = clickhouse_counts_and_bytes(clickhouse_url, optimize=True)
        if shards is not None:
            cluster_url = f"{shards.url('fleet')}&settings=sqlite:///{settings}"
            ClickHouseStore(cluster_url).close()
            report["cluster"] = ingest(
                "clickhouse", cluster_url, args.writers, args.events_per_writer, now_ns
            )
            report["cluster"].update(
                clickhouse_counts_and_bytes(cluster_url, optimize=False, servers=shards.servers)
            )
    finally:
        server.stop()
        if shards is not None:
            shards.stop()
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()
    pg, ch, chopt = report["postgresql"], report["clickhouse"], report["clickhouse_optimized"]
    checked = [("postgresql", pg), ("clickhouse", ch), ("clickhouse, optimized", chopt)]
    for name, found in checked + [("cluster", report[k]) for k in ("cluster",) if k in report]:
        assert found["counts"] == {"raw": total, "minute": total, "hour": total}, (name, found)
    pg_bytes, ch_bytes, opt_bytes = (sum(f["bytes"].values()) for f in (pg, ch, chopt))
    print(f"{'':24}{'PostgreSQL':>14}{'ClickHouse':>14}{'ratio':>10}")
    print(
        f"{f'events/s ({args.writers} writers)':24}"
        f"{pg['events_per_s']:>14,.0f}{ch['events_per_s']:>14,.0f}"
        f"{ch['events_per_s'] / pg['events_per_s']:>9.1f}x"
    )
    print(f"{'batches/s':24}{pg['batches_per_s']:>14,.0f}{ch['batches_per_s']:>14,.0f}")
    print(f"{'p99 batch (ms)':24}{pg['p99_batch_ms']:>14,.1f}{ch['p99_batch_ms']:>14,.1f}")
    print(
        f"{'bytes/event':24}{pg_bytes / total:>14,.1f}{ch_bytes / total:>14,.1f}"
        f"{ch_bytes / pg_bytes:>9.3f}x"
    )
    print(
        f"{'bytes/event, optimized':24}{'':>14}{opt_bytes / total:>14,.1f}"
        f"{opt_bytes / pg_bytes:>9.3f}x"
    )
    if "cluster" in report:
        two = report["cluster"]
        print(
            f"{'2 shards: events/s':24}{'':>14}{two['events_per_s']:>14,.0f}"
            f"{two['events_per_s'] / ch['events_per_s']:>9.2f}x of one server"
        )
        print(f"{'2 shards: p99 batch (ms)':24}{'':>14}{two['p99_batch_ms']:>14,.1f}")
        print(f"{'2 shards: bytes/event':24}{'':>14}{sum(two['bytes'].values()) / total:>14,.1f}")
    print(f"counts exact in every store: {total:,} raw, minute and hour rollups")
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
