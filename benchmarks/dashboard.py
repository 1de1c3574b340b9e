"""How fast the dashboard's API answers over a big store, server side.

Fills a store with N request events spread over the last 7 days (20 endpoints, 3 versions,
50 users, 2 % failures, half of them with one of six tracebacks: 26 error groups) through the
real writer (rows plus minute and hour rollups and error groups), then times the
overview and an endpoint's detail calls through Flask's test client (no network), median of
several runs. Optionally does the same for Flask-MonitoringDashboard's overview on a database
of its own with the same number of requests.

    python benchmarks/dashboard.py [--events 1000000] [--postgres URL] [--fmd]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lookout.events import HOSTNAME, Event
from lookout.sinks.sql import SqlSink

DAY_NS = 86400 * 10**9
ENDPOINTS = [f"endpoint_{n}" for n in range(20)]
BATCH = 20_000
#: The bugs behind half of the failures (the other half are bare 500s): (type, function).
BUGS = [
    ("KeyError", "load_cart"),
    ("ValueError", "parse_amount"),
    ("shop.payments.PaymentDeclined", "charge"),
    ("TimeoutError", "call_inventory"),
    ("AttributeError", "render_offer"),
    ("KeyError", "lookup_price"),
]


def _bug(rng: random.Random, n: int) -> dict[str, str]:
    """An exception's fields, as a failed request of the shop stores them."""
    error_type, function = rng.choice(BUGS)
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/srv/.venv/lib/python3.12/site-packages/flask/app.py", line 880, in '
        "full_dispatch_request\n    rv = self.dispatch_request()\n"
        f'  File "/srv/shop/shop/views.py", line {40 + n % 7}, in {function}\n'
        "    return handle(request)\n"
        f"{error_type}: item {n}\n"
    )
    return {"error_type": error_type, "error_message": f"item {n}", "traceback": traceback}


def fill(url: str, events: int) -> float:
    """Write ``events`` request events; return the seconds it took."""
    sink = SqlSink(url)
    rng = random.Random(1)
    now = time.time_ns()
    started = time.perf_counter()
    batch: list[Event] = []
    step = 7 * DAY_NS // events  # in time order, as traffic arrives
    start = now - 7 * DAY_NS
    for n in range(events):
        endpoint = ENDPOINTS[min(int(rng.expovariate(0.25)), len(ENDPOINTS) - 1)]
        failed = rng.random() < 0.02
        batch.append(
            Event(
                kind="request",
                name=endpoint,
                start_ns=start + n * step,
                duration_ns=int(rng.lognormvariate(16, 0.6)),
                outcome="error" if failed else "ok",
                status=500 if failed else 200,
                host=HOSTNAME,
                pid=1,
                app_version=f"1.{n % 3}",
                request_id=f"{n:032x}",
                group=f"user-{n % 50}",
                client_ip="10.0.0.1",
                tags={"method": "GET"},
                fields={"path": f"/{endpoint}", "rule": f"/{endpoint}"},
                **(_bug(rng, n) if failed and rng.random() < 0.5 else {}),
            )
        )
        if len(batch) == BATCH:
            sink.write(batch)
            batch = []
    if batch:
        sink.write(batch)
    store = sink.store
    with store.engine.begin() as connection:  # fresh planner statistics, as autovacuum would
        connection.exec_driver_sql("ANALYZE")
    sink.close()
    return time.perf_counter() - started


def timed(call: Callable[[], Any], runs: int = 5) -> float:
    """Median milliseconds of ``runs`` calls (after one warm-up)."""
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def lookout_api(url: str) -> dict[str, float]:
    from lookout.dashboard import create_app

    client = create_app(url, auth=False).test_client()

    def get(path: str) -> Callable[[], Any]:
        def call() -> Any:
            response = client.get(f"/dashboard/api/{path}")
            assert response.status_code == 200, response.get_data(as_text=True)
            return response

        return call

    busiest = "names/request/endpoint_0"
    groups = client.get("/dashboard/api/errors?range=7d").get_json()["groups"]
    # A store filled before error groups existed (migration 0005) has none: skip the group page.
    group_pages = (
        {
            "errors: group 24h": timed(get(f"errors/{groups[0]['id']}?range=24h")),
            "errors: group 7d": timed(get(f"errors/{groups[0]['id']}?range=7d")),
        }
        if groups
        else {}
    )
    return {
        "errors: list 24h": timed(get("errors?range=24h")),
        "errors: list 7d": timed(get("errors?range=7d")),
        "errors: list 30d v1.1": timed(get("errors?range=30d&version=1.1")),
        "errors: list 7d by last seen": timed(get("errors?range=7d&sort=last_seen")),
        **group_pages,
        "overview": timed(get("overview")),
        "detail: timeseries 24h": timed(get(f"{busiest}/timeseries?range=24h")),
        "detail: timeseries 7d": timed(get(f"{busiest}/timeseries?range=7d")),
        "detail: heatmap": timed(get(f"{busiest}/heatmap")),
        "detail: per version 7d": timed(get(f"{busiest}/versions?range=7d")),
        "detail: statuses 24h": timed(get(f"{busiest}/statuses?range=24h")),
        "overview: tiles 24h": timed(get("overview/tiles?range=24h")),
        "overview: tiles 7d": timed(get("overview/tiles?range=7d")),
        "overview: tiles 30d": timed(get("overview/tiles?range=30d")),
        "overview: series 1h": timed(get("overview/series?range=1h")),
        "overview: series 24h": timed(get("overview/series?range=24h")),
        "overview: series 7d": timed(get("overview/series?range=7d")),
        "overview: series 30d": timed(get("overview/series?range=30d")),
        "overview: series 24h v1.1": timed(get("overview/series?range=24h&version=1.1")),
        "overview: tiles 7d v1.1": timed(get("overview/tiles?range=7d&version=1.1")),
        "overview: names 24h": timed(get("overview/names?range=24h")),
        "detail: series 24h": timed(get("overview/series?range=24h&kind=request&name=endpoint_0")),
        "reports: distributions 7d": timed(get("reports/distributions?range=7d")),
        "reports: today vs yesterday": timed(get("reports/compare?compare=day")),
        "reports: week vs last week": timed(get("reports/compare?compare=week")),
        "reports: utilization 7d": timed(get("reports/utilization?range=7d")),
        "reports: heatmaps 7d": timed(get("reports/heatmaps?name=endpoint_0&range=7d")),
    }


def fmd_overview(folder: Path, events: int) -> float | None:
    """Flask-MonitoringDashboard's overview over its own SQLite database of ``events``."""
    try:
        import flask_monitoringdashboard as dashboard
        from flask import Flask
    except ImportError:
        return None
    import sqlalchemy as sa

    db = folder / "fmd.db"
    dashboard.config.database_name = f"sqlite:///{db}"
    dashboard.config.username = dashboard.config.password = "admin"
    app = Flask("fmd")
    for endpoint in ENDPOINTS:
        app.add_url_rule(f"/{endpoint}", endpoint, lambda: "ok")
    dashboard.bind(app)
    engine = sa.create_engine(f"sqlite:///{db}")
    rng = random.Random(1)
    with engine.begin() as connection:
        ids = {
            name: connection.execute(
                sa.text("SELECT id FROM Endpoint WHERE name = :n"), {"n": name}
            ).scalar()
            for name in ENDPOINTS
        }
        now = time.time()
        rows = [
            {
                "endpoint_id": ids[ENDPOINTS[min(int(rng.expovariate(0.25)), 19)]],
                "duration": rng.lognormvariate(2.2, 0.6),
                "time_requested": time.strftime(
                    "%Y-%m-%d %H:%M:%S", time.gmtime(now - rng.random() * 7 * 86400)
                ),
                "version_requested": f"1.{n % 3}",
                "group_by": f"user-{n % 50}",
                "ip": "10.0.0.1",
                "status_code": 200,
            }
            for n in range(events)
        ]
        connection.execute(
            sa.text(
                "INSERT INTO Request (endpoint_id, duration, time_requested, version_requested, "
                "group_by, ip, status_code) VALUES (:endpoint_id, :duration, :time_requested, "
                ":version_requested, :group_by, :ip, :status_code)"
            ),
            rows,
        )
    client = app.test_client()
    client.post("/dashboard/login", data={"name": "admin", "password": "admin"})

    def call() -> None:
        response = client.get("/dashboard/api/overview")
        assert response.status_code == 200, response.status_code

    return timed(call, runs=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="", help="also a PostgreSQL store (emptied first)")
    parser.add_argument("--fmd", action="store_true", help="also Flask-MonitoringDashboard")
    parser.add_argument(
        "--keep", default="", help="SQLite file to fill once and reuse on later runs"
    )
    parser.add_argument(
        "--no-fill", action="store_true", help="time the PostgreSQL store as it is (filled before)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sqlite_path = Path(args.keep) if args.keep else Path(folder) / "lookout.db"
        stores = [("SQLite", f"sqlite:///{sqlite_path}")]
        if args.postgres:
            stores.append(("PostgreSQL", args.postgres))
        results: dict[str, dict[str, float]] = {}
        for label, url in stores:
            reuse = (label == "SQLite" and args.keep and sqlite_path.exists()) or (
                label == "PostgreSQL" and args.no_fill
            )
            if not reuse:
                seconds = fill(url, args.events)
                print(
                    f"{label}: wrote {args.events:,} events in {seconds:.1f}s "
                    f"({args.events / seconds:,.0f}/s)"
                )
            results[label] = lookout_api(url)
        fmd = fmd_overview(Path(folder), args.events) if args.fmd else None
    print(f"\n{'API call (median ms)':<28}" + "".join(f"{label:>14}" for label in results))
    for call in next(iter(results.values())):
        print(f"{call:<28}" + "".join(f"{results[label][call]:>14.1f}" for label in results))
    if args.fmd:
        shown = "not installed" if fmd is None else f"{fmd:.1f}"
        print(f"{'FMD overview (SQLite)':<28}{shown:>14}")


if __name__ == "__main__":
    main()
