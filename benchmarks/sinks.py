"""Sustained events/s through the Recorder into each store and sink that can run here.

Two figures per destination, both events written (for the SQL store: raw rows plus minute and
hour rollups) per second of wall time until ``flush()`` returns, with nothing dropped:

- with producer: the main thread calls monitored functions as fast as it can while the
  Recorder's dispatcher and the sink's worker run, all sharing one GIL;
- pipeline only: the same number of calls is captured first, then handed to the Recorder at
  once, which measures what the dispatcher and the writer can sustain on their own.

Servers: the SQL stores on this machine; ``influxd`` (InfluxDB 1.x, Debian's package) and
``secantusd-py`` (the MongoDB wire-protocol stand-in, see docs/sinks.md) are started in their
own processes on 127.0.0.1 when found; the HTTP sink posts to a discarding server in another
process; the Prometheus and logging sinks need nothing.

    python benchmarks/sinks.py [--events N] [--sink-events N] [--postgres URL] [--mysql URL]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
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


Target = Callable[[], Any]  # makes a fresh SQL store URL (str) or a Sink


def _open(target: Target, events: int) -> tuple[Lookout, str]:
    made = target()
    sizes = {"queue_size": events + 10, "sink_queue_size": events + 10, "batch_size": 5000}
    if isinstance(made, str):
        reset(made)
        return Lookout(store=made, **sizes), "sql"
    return Lookout(store=None, sinks=[made], **sizes), made.name


def _finish(lk: Lookout, sink_name: str, started: float, events: int) -> tuple[float, int]:
    assert lk.flush(600)
    elapsed = time.perf_counter() - started
    stats = lk.stats()
    lk.close()
    sink = stats["sinks"][sink_name]
    assert sink["written"] == events, stats
    return events / elapsed, stats["dropped"] + sink["dropped"] + sink["failed"]


def with_producer(target: Target, events: int, names: int) -> tuple[float, int]:
    lk, sink_name = _open(target, events)
    functions = [lk.monitor(name=f"bench.function_{n}")(lambda x: x) for n in range(names)]
    started = time.perf_counter()
    for index in range(events):
        functions[index % names](index)
    return _finish(lk, sink_name, started, events)


def pipeline_only(target: Target, events: int, names: int) -> tuple[float, int]:
    lk, sink_name = _open(target, events)
    capture = _CaptureOnly(events + 10)
    functions = [
        make_monitor(capture, lambda x: x, name=f"bench.function_{n}")  # type: ignore[arg-type]
        for n in range(names)
    ]
    for index in range(events):
        functions[index % names](index)
    started = time.perf_counter()
    lk.recorder.ingress.extend(capture.ingress)
    return _finish(lk, sink_name, started, events)


def run(label: str, target: Target, events: int, names: int) -> None:
    try:
        produced_rate, lost = with_producer(target, events, names)
        pipeline_rate, lost_too = pipeline_only(target, events, names)
    except Exception as exc:  # a server that is not running here is reported, not fatal
        print(f"{label:<14} skipped: {type(exc).__name__}: {exc}"[:200])
        return
    print(f"{label:<14} {produced_rate:>22,.0f} {pipeline_rate:>16,.0f} {lost + lost_too:>6}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(command: list[str], probe: Callable[[], object], stack: ExitStack) -> None:
    """Start a server process for the run; wait until ``probe`` succeeds."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(process.wait, 20)
    stack.callback(process.terminate)
    deadline = time.monotonic() + 30
    while True:
        try:
            probe()
            return
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


DISCARDING_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Discard(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Discard).serve_forever()
"""


def sink_targets(folder: Path, stack: ExitStack) -> list[tuple[str, Target]]:
    """The sinks that can run here, each with its server started."""
    import logging
    import urllib.request

    from lookout.sinks.console import LoggingSink
    from lookout.sinks.http import HttpSink

    targets: list[tuple[str, Target]] = []
    port = _free_port()
    _serve(
        [sys.executable, "-c", DISCARDING_SERVER, str(port)],
        lambda: socket.create_connection(("127.0.0.1", port), 1).close(),
        stack,
    )
    targets.append(("HTTP", lambda: HttpSink(f"http://127.0.0.1:{port}/ingest")))

    influxd = shutil.which("influxd")
    if influxd is not None:
        from lookout.sinks.influx import InfluxSink

        http_port = _free_port()
        config = folder / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{_free_port()}"\n'
            f'[meta]\n  dir = "{folder}/meta"\n[data]\n  dir = "{folder}/data"\n'
            f'  wal-dir = "{folder}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{http_port}"\n  log-enabled = false\n'
            "[ifql]\n  enabled = false\n[monitor]\n  store-enabled = false\n"
        )
        url = f"http://127.0.0.1:{http_port}"
        _serve(
            [influxd, "-config", str(config)], lambda: urllib.request.urlopen(f"{url}/ping"), stack
        )
        query = urllib.parse.urlencode({"q": "CREATE DATABASE bench"}).encode()
        urllib.request.urlopen(f"{url}/query", data=query)
        targets.append(("InfluxDB 1.x", lambda: InfluxSink(url, database="bench")))

    secantus = shutil.which("secantusd-py")
    if secantus is not None:
        from lookout.sinks.mongo import MongoSink

        mongo_port = _free_port()
        storage = folder / "mongo"
        _serve(
            [
                secantus,
                "--host",
                "127.0.0.1",
                "--port",
                str(mongo_port),
                "--storage-path",
                str(storage),
            ],
            lambda: socket.create_connection(("127.0.0.1", mongo_port), 1).close(),
            stack,
        )
        runs = iter(range(1_000_000))
        targets.append(
            (
                "Mongo (stand-in)",
                lambda: MongoSink(
                    f"mongodb://127.0.0.1:{mongo_port}", collection=f"run{next(runs)}"
                ),
            )
        )

    try:
        from prometheus_client import CollectorRegistry

        from lookout.sinks.prometheus import PrometheusSink

        targets.append(("Prometheus", lambda: PrometheusSink(CollectorRegistry())))
    except ImportError:
        pass
    log_file = folder / "events.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger("lookout.bench").addHandler(handler)
    logging.getLogger("lookout.bench").propagate = False
    logging.getLogger("lookout.bench").setLevel(logging.INFO)
    targets.append(("Log (JSON)", lambda: LoggingSink(logger="lookout.bench")))
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--names", type=int, default=20, help="distinct monitored functions")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="'' to skip")
    parser.add_argument("--mysql", default=DEFAULT_MYSQL, help="'' to skip")
    parser.add_argument(
        "--sink-events", type=int, default=100_000, help="events per run for the other sinks"
    )
    args = parser.parse_args()
    print(f"{'destination':<14} {'events/s with producer':>22} {'pipeline only':>16} {'lost':>6}")
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        sqlite_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        run("SQLite", lambda: sqlite_url, args.events, args.names)
        for label, url in (("PostgreSQL", args.postgres), ("MariaDB", args.mysql)):
            if url:
                run(label, lambda url=url: url, args.events, args.names)  # type: ignore[misc]
        for label, target in sink_targets(Path(folder), stack):
            run(label, target, args.sink_events, args.names)


if __name__ == "__main__":
    main()
