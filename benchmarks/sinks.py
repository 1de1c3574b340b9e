"""Sustained events/s through the Recorder into each store that can run here, side by side.

A producer thread calls a monitored function as fast as it can (the hot path), while the
Recorder's dispatcher and the sink's worker turn the captures into events and write them
(raw rows plus minute and hour rollups). The figure is events written per second of wall
time, from the first call until ``flush()`` returns, with nothing dropped.

    python benchmarks/sinks.py [--events 300000] [--postgres URL] [--mysql URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from lookout import Lookout

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_MYSQL = "mysql://root@127.0.0.1:3306/test"


def reset(url: str) -> None:
    lk = Lookout(store=url)
    assert lk.store is not None
    with lk.store.engine.begin() as connection:
        for table in ("lookout_events", "lookout_rollups_minute", "lookout_rollups_hour"):
            connection.execute(text(f"DELETE FROM {table}"))
    lk.close()


def run(label: str, url: str, events: int, names: int) -> None:
    reset(url)
    lk = Lookout(store=url, queue_size=events + 10, sink_queue_size=events + 10, batch_size=5000)
    functions = [lk.monitor(name=f"bench.function_{n}")(lambda x: x) for n in range(names)]
    started = time.perf_counter()
    for index in range(events):
        functions[index % names](index)
    produced = time.perf_counter()
    lk.flush(600)
    finished = time.perf_counter()
    stats = lk.stats()
    lk.close()
    sink = stats["sinks"]["sql"]
    lost = stats["dropped"] + sink["dropped"] + sink["failed"]
    print(
        f"{label:<12} {sink['written'] / (finished - started):>12,.0f} "
        f"{events / (produced - started):>14,.0f} {sink['written']:>10,} {lost:>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--names", type=int, default=20, help="distinct monitored functions")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="'' to skip")
    parser.add_argument("--mysql", default=DEFAULT_MYSQL, help="'' to skip")
    args = parser.parse_args()
    print(f"{'store':<12} {'written/s':>12} {'captured/s':>14} {'written':>10} {'lost':>6}")
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}", args.events, args.names)
    for label, url in (("PostgreSQL", args.postgres), ("MariaDB", args.mysql)):
        if not url:
            continue
        try:
            run(label, url, args.events, args.names)
        except Exception as exc:  # a server that is not running here is reported, not fatal
            print(f"{label:<12} skipped: {type(exc).__name__}: {exc}"[:200])


if __name__ == "__main__":
    main()
