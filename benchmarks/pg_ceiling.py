"""The SQL store's ceiling: 1, 4 and 8 writer processes on one hot name.

Every writer is a process of its own (spawned, one store connection each) writing batches of
request events of one name, one host and one app version (gunicorn workers of one
application), so every batch adds to the same minute, hour and origin rollup rows: the
worst case for rollups merged under row locks. Each writer writes its batches one after the
other through ``SqlSink.write`` (what the Recorder's worker calls) for ``--seconds`` seconds
from a barrier all writers pass together; the figures are batches/s of all writers together
and the p50 / p99 of one batch's latency. Afterwards every count is checked exactly: raw rows,
and the rollups as the readers see them (``lookout.store.queries.summarize``).

    nice -n 10 python benchmarks/pg_ceiling.py [--writers 1 4 8] [--batch 20] [--seconds 5]
        [--url postgresql://postgres@127.0.0.1:5432/test] [--url mysql://root@127.0.0.1/test]

Each run gets a database of its own on the server, dropped after it. Run it on another
checkout's code with ``PYTHONPATH=/path/to/checkout/src`` to compare before and after.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import time
import uuid
from typing import Any

import sqlalchemy as sa

from lookout import make_event
from lookout.events import Event

NS = 1_000_000_000
NAME = "shop.cart.show"
DEFAULT_URLS = ["postgresql://postgres@127.0.0.1:5432/test"]


def make_batches(writer: int, batch: int, count: int, now_ns: int) -> list[list[Event]]:
    """``count`` batches of ``batch`` events of the hot name, within the current minute."""
    rng = random.Random(writer)
    return [
        [
            make_event(
                "request",
                NAME,
                start_ns=now_ns + rng.randrange(0, NS),
                duration_ns=int(rng.lognormvariate(16.0, 0.9)),
                status=200,
                app_version="1.5.0",
            )._replace(host="web-1", pid=1000 + writer)
            for _ in range(batch)
        ]
        for _ in range(count)
    ]


def _writer(
    url: str, writer: int, batch: int, seconds: float, now_ns: int, barrier: Any, results: Any
) -> None:
    from lookout.sinks.sql import SqlSink

    batches = make_batches(writer, batch, 256, now_ns)
    sink = SqlSink(url)
    sink.write(batches[0][:1])  # opened, the name and source registered, before the clock
    barrier.wait()
    started = time.perf_counter()
    deadline = started + seconds
    latencies = []
    written = 1
    while time.perf_counter() < deadline:
        events = batches[len(latencies) % len(batches)]
        began = time.perf_counter()
        sink.write(events)
        latencies.append(time.perf_counter() - began)
        written += len(events)
    finished = time.perf_counter()
    results.put(
        {
            "started": started,
            "finished": finished,
            "latencies": latencies,
            "events": written,
            "deadlocks": sink.deadlocks_retried,
            # batches that merged as the compactor (all of them before deltas existed)
            "compactions": getattr(
                getattr(sink._writer, "compaction", None), "compactions", len(latencies) + 1
            ),
        }
    )
    sink.close()


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def run(url: str, writers: int, batch: int, seconds: float) -> dict[str, Any]:
    """One measurement in a fresh database on the server of ``url``."""
    from lookout.sinks.sql import SqlSink
    from lookout.store.engine import normalize_url
    from lookout.store.queries import summarize

    backend = sa.engine.make_url(url).get_backend_name()
    database = f"lookout_ceiling_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {database}"))
    target = sa.engine.make_url(url).set(database=database).render_as_string(hide_password=False)
    try:
        SqlSink(target).store.close()  # the schema first: writers do not race to make it
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(writers + 1)
        results = context.Queue()
        now_ns = time.time_ns() // (60 * NS) * (60 * NS) + 5 * NS
        processes = [
            context.Process(
                target=_writer, args=(target, n, batch, seconds, now_ns, barrier, results)
            )
            for n in range(writers)
        ]
        for process in processes:
            process.start()
        barrier.wait()
        found = [results.get(timeout=600) for _ in processes]
        for process in processes:
            process.join(60)
            assert process.exitcode == 0, "a writer failed"
        load = os.getloadavg()
        sink = SqlSink(target)
        with sink.store.engine.connect() as connection:
            raw = connection.execute(sa.text("SELECT count(*) FROM lookout_events")).scalar()
        [summary] = summarize(sink.store, since_s=3600)
        sink.close()
    finally:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if backend == "postgresql" else ""
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {database}{force}"))
        admin.dispose()
    events = sum(r["events"] for r in found)
    assert raw == events, (raw, events)
    assert summary.count == events, (summary.count, events)
    latencies = sorted(latency for r in found for latency in r["latencies"])
    wall = max(r["finished"] for r in found) - min(r["started"] for r in found)
    return {
        "backend": backend,
        "writers": writers,
        "batch": batch,
        "batches": len(latencies),
        "batches_per_s": len(latencies) / wall,
        "events_per_s": events / wall,
        "p50_ms": 1000 * _quantile(latencies, 0.50),
        "p99_ms": 1000 * _quantile(latencies, 0.99),
        "deadlocks": sum(r["deadlocks"] for r in found),
        "compactor_share": sum(r["compactions"] for r in found) / (len(latencies) + writers),
        "load": [round(value, 2) for value in load],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--url", action="append", default=None)
    args = parser.parse_args()
    print(f"{'store':12}{'writers':>8}{'batches/s':>11}{'events/s':>10}{'p50 ms':>8}{'p99 ms':>8}")
    for url in args.url or DEFAULT_URLS:
        for writers in args.writers:
            found = run(url, writers, args.batch, args.seconds)
            print(
                f"{found['backend']:12}{writers:>8}{found['batches_per_s']:>11,.0f}"
                f"{found['events_per_s']:>10,.0f}{found['p50_ms']:>8.1f}{found['p99_ms']:>8.1f}"
                f"   load {found['load'][0]:.2f}, deadlocks {found['deadlocks']}, "
                f"compactor in {found['compactor_share']:.0%} of batches"
            )
            print(json.dumps(found))


if __name__ == "__main__":
    main()
