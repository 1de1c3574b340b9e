"""The dashboard's API over many request events in ClickHouse: server time per page.

Events are generated inside the server (``INSERT ... SELECT ... FROM numbers(N)``, the
materialized views filling the rollups as for any insert): 40 endpoint names with about equal
traffic, 3 versions, 8 hosts, 1,000 users, log-normal durations, 2 % errors, spread over
the last 7 days. Then each API answer the overview and a detail page ask for is timed through
the dashboard's Flask app (in-process WSGI, so the time is the server's own), best of 3.

    nice -n 10 python benchmarks/clickhouse_dashboard.py [--events 100000000] [--optimize] [--keep]
    python benchmarks/clickhouse_dashboard.py --url 'clickhouse://...:9000/bench?settings=...'

``--optimize`` merges every table's parts first (``OPTIMIZE ... FINAL``: what the server's
background merges reach for all but the newest data); ``--keep`` leaves the server running
(its URL printed) so that ``--url`` times it again.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.store.clickhouse_server: the server launcher

from lookout.dashboard import create_app  # noqa: E402
from lookout.store.clickhouse.store import ClickHouseStore  # noqa: E402

CHUNK = 250_000  # each INSERT ... SELECT well inside the client's 60 s timeout
GENERATE = """
INSERT INTO {table} (kind, name, start_ns, duration_ns, is_error, status, host, pid,
    app_version, request_id, group_key, client_ip, tags, fields)
SELECT
    'request',
    concat('shop.endpoint', toString(least(39, toUInt32(intHash32(number) % 1000 / 25)))),
    {now_ns} - toInt64(intHash64(number) % (7 * 86400 * 1000000)) * 1000,
    toInt64(exp(16 + (intHash32(number * 7) % 10000) / 10000 * 2.5)),
    intHash32(number * 3) % 50 = 0,
    if(intHash32(number * 3) % 50 = 0, 500, 200),
    concat('web-', toString(number % 8)),
    toUInt32(1000 + number % 8),
    ['1.4.2', '1.5.0', '1.5.1'][number % 3 + 1],
    hex(intHash64(number)),
    concat('user-', toString(intHash32(number * 11) % 1000)),
    concat('10.0.', toString(number % 256), '.', toString(intHash32(number) % 256)),
    NULL,
    if(number % 10 = 0, '{{"method":"GET","cart_items":3}}', NULL)
FROM numbers({first}, {count})
"""

#: Every page's API answers (as each page asks for them), and the filters on the overview's.
PAGES = (
    "overview",
    "overview/tiles?range=24h",
    "overview/tiles?range=7d",
    "overview/series?range=24h",
    "overview/series?range=7d",
    "overview/names?range=24h",
    "overview/names?range=7d",
    "overview/tiles?range=24h&version=1.5.0",
    "overview/series?range=7d&host=web-3",
    "overview/names?range=24h&version=1.5.1&host=web-2",
    "filters",
    "names/request/{name}/timeseries",
    "names/request/{name}/timeseries?range=7d",
    "names/request/{name}/heatmap",
    "names/request/{name}/versions",
    "names/request/{name}/groups",
    "names/request/{name}/statuses",
    "names/request/{name}/outliers",
    "names/request/{name}/tracked",
    "names/request/{name}/profile",
    "names/request/{name}/hosts",
    "overview/series?range=24h&kind=request&name={name}",
    "reports/versions",
    "reports/distributions",
    "reports/compare?compare=day",
    "reports/utilization",
    "reports/heatmaps?name={name}",
    "profiles/request/{name}",
    "tests/runs",
    "tests/endpoints",
    "jobs",
    "metrics",
    "system",
)


@contextmanager
def bench_store(prefix: str, *, keep: bool = False) -> Iterator[tuple[str, ClickHouseStore]]:
    """A private 18.16 server for the run, and the store ``bench`` on it (stopped after,
    unless ``keep``: then its URL is printed)."""
    from tests.store.clickhouse_server import ClickHouseServer

    server = ClickHouseServer(Path(tempfile.mkdtemp(prefix=prefix)))
    server.start()
    try:
        url = f"{server.url('bench')}?settings=sqlite:///{server.root / 'settings.db'}"
        store = ClickHouseStore(url)
        yield url, store
        store.close()
        if keep:
            print(f"server left running (pid {server.process.pid}): {url}")  # type: ignore[union-attr]
            return
    except BaseException:
        keep = False
        raise
    finally:
        if not keep:
            server.stop()


def busiest_name(store: ClickHouseStore) -> str:
    return str(
        store.execute(
            "SELECT name FROM bench.lookout_rollups_hour GROUP BY name "
            "ORDER BY countMerge(count) DESC LIMIT 1"
        )[0][0]
    )


def generate(store: ClickHouseStore, sql: str, events: int, now_ns: int) -> float:
    """``events`` rows made by ``sql`` (an ``INSERT ... SELECT ... FROM numbers``) in inserts
    of ``CHUNK``; the seconds it took."""
    started = time.perf_counter()
    for first in range(0, events, CHUNK):
        count = min(CHUNK, events - first)
        store.execute(
            sql.format(table=store.table("lookout_events"), now_ns=now_ns, first=first, count=count)
        )
    return time.perf_counter() - started


def best_of_3(client: Any, path: str) -> tuple[float, Any]:
    """The fastest of three answers to ``path`` (seconds) and the last response (200)."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        response = client.get(path)
        best = min(best, time.perf_counter() - began)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    return best, response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--optimize", action="store_true", help="OPTIMIZE ... FINAL every table before timing"
    )
    parser.add_argument(
        "--url", help="time an existing store (database 'bench', already filled) instead"
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave the server running, print its URL"
    )
    args = parser.parse_args()
    if args.url is not None:
        store = ClickHouseStore(args.url, migrate_schema=False)
        time_pages(store, args.url)
        store.close()
        return
    with bench_store("lookout-dashboard-", keep=args.keep) as (url, store):
        started = time.perf_counter()
        took = generate(store, GENERATE, args.events, time.time_ns())
        print(f"{args.events:,} events generated in {took:.0f} s", flush=True)
        if args.optimize:
            optimize(store)
            print(f"  merged (OPTIMIZE FINAL) at {time.perf_counter() - started:.0f} s")
        time_pages(store, url)


def optimize(store: ClickHouseStore) -> None:
    """Every table's parts merged, on a connection of its own that waits as long as that takes
    (the store's gives up after 60 s: 100 million raw events take longer)."""
    from clickhouse_driver import Client

    target = store.target
    client = Client(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        send_receive_timeout=4 * 3600,
    )
    for (table,) in store.execute(
        "SELECT name FROM system.tables WHERE database = 'bench' AND engine LIKE '%MergeTree'"
    ):
        client.execute(f"OPTIMIZE TABLE {store.table(table)} FINAL")
    client.disconnect()


def time_pages(store: ClickHouseStore, url: str) -> None:
    """The tables' sizes, then each page's API answer through the dashboard's app."""
    sizes = store.execute(
        "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts "
        "WHERE database = 'bench' AND active GROUP BY table ORDER BY table"
    )
    for table, rows, size in sizes:
        print(f"  {table}: {rows:,} rows in parts, {size / 1e6:,.1f} MB")
    busiest = busiest_name(store)
    client = create_app(url, auth=False).test_client()
    print(f"server time per API answer (best of 3; detail pages for {busiest}):")
    for page in PAGES:
        best, _ = best_of_3(client, "/dashboard/api/" + page.format(name=busiest))
        print(f"  {page.format(name='<name>'):52} {best * 1000:8.1f} ms", flush=True)


if __name__ == "__main__":
    main()
