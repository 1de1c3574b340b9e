"""Sustained events/s through the Recorder into each store that can run here, side by side.

Two figures per store, both events written (raw rows plus minute and hour rollups) per second
of wall time until ``flush()`` returns, with nothing dropped:

- with producer: the main thread calls monitored functions as fast as it can while the
  Recorder's dispatcher and the sink's worker run, all sharing one GIL;
- pipeline only: the same number of calls is captured first, then handed to the Recorder at
  once, which measures what the dispatcher and the writer can sustain on their own.

    python benchmarks/sinks.py [--events 300000] [--postgres URL] [--mysql URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from sqlalchemy import text

from lookout import Lookout
from lookout.monitor import make_monitor

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_MYSQL = "mysql://root@127.0.0.1:3306/test"


def reset(url: str) -> None:
    lk = Lookout(store=url)
    assert lk.store is not None
    with lk.store.engine.begin() as connection:
        for table in ("lookout_events", "lookout_rollups_minute", "lookout_rollups_hour"):
            connection.execute(text(f"DELETE FROM {table}"))
    lk.close()


class _CaptureOnly:
    """Has what a monitored function's wrapper uses of a Recorder, and no threads."""

    def __init__(self, size: int) -> None:
        self.ingress: deque[Any] = deque()
        self.queue_size = size

    def count_drop(self) -> None:
        raise AssertionError("capture buffer too small")

    def mark_static(self, mapping: Any) -> Any:
        return mapping


def _open(url: str, events: int) -> Lookout:
    reset(url)
    return Lookout(store=url, queue_size=events + 10, sink_queue_size=events + 10, batch_size=5000)


def _finish(lk: Lookout, started: float, events: int) -> tuple[float, int]:
    assert lk.flush(600)
    elapsed = time.perf_counter() - started
    stats = lk.stats()
    lk.close()
    sink = stats["sinks"]["sql"]
    assert sink["written"] == events, stats
    return events / elapsed, stats["dropped"] + sink["dropped"] + sink["failed"]


def with_producer(url: str, events: int, names: int) -> tuple[float, int]:
    lk = _open(url, events)
    functions = [lk.monitor(name=f"bench.function_{n}")(lambda x: x) for n in range(names)]
    started = time.perf_counter()
    for index in range(events):
        functions[index % names](index)
    return _finish(lk, started, events)


def pipeline_only(url: str, events: int, names: int) -> tuple[float, int]:
    lk = _open(url, events)
    capture = _CaptureOnly(events + 10)
    functions = [
        make_monitor(capture, lambda x: x, name=f"bench.function_{n}")  # type: ignore[arg-type]
        for n in range(names)
    ]
    for index in range(events):
        functions[index % names](index)
    started = time.perf_counter()
    lk.recorder.ingress.extend(capture.ingress)
    return _finish(lk, started, events)


def run(label: str, url: str, events: int, names: int) -> None:
    produced_rate, lost = with_producer(url, events, names)
    pipeline_rate, lost_too = pipeline_only(url, events, names)
    print(f"{label:<12} {produced_rate:>22,.0f} {pipeline_rate:>16,.0f} {lost + lost_too:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--names", type=int, default=20, help="distinct monitored functions")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="'' to skip")
    parser.add_argument("--mysql", default=DEFAULT_MYSQL, help="'' to skip")
    args = parser.parse_args()
    print(f"{'store':<12} {'events/s with producer':>22} {'pipeline only':>16} {'lost':>6}")
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
