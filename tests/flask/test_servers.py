"""LookoutFlask behind real servers on 127.0.0.1: werkzeug in a thread, gunicorn with workers."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from lookout.flask import LookoutFlask
from lookout.testing import capture_events


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def test_werkzeug_server_times_streams_until_the_last_chunk() -> None:
    with capture_events() as events:
        app = Flask("served")
        LookoutFlask(app, events.lookout)

        @app.get("/stream")
        def stream() -> object:
            def chunks() -> Iterator[bytes]:
                for _ in range(4):
                    time.sleep(0.05)
                    yield b"x" * 1000

            return app.response_class(chunks())

        @app.get("/hello")
        def hello() -> str:
            return "hello"

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            status, body, headers = _get(server.port, "/stream", {"X-Request-ID": "trace-1"})
            assert (status, len(body), headers["X-Request-ID"]) == (200, 4000, "trace-1")
            assert _get(server.port, "/hello")[0] == 200
        finally:
            server.shutdown()
            thread.join(5)
        stream_event, hello_event = sorted(events.refresh(), key=lambda e: e.name, reverse=True)
    assert stream_event.name == "stream" and stream_event.request_id == "trace-1"
    assert stream_event.duration_ns >= 190_000_000
    assert stream_event.fields["response_bytes"] == 4000
    assert hello_event.duration_ns < stream_event.duration_ns


def _gunicorn(
    app: str, folder: Path, port: int, options: list[str], env: dict[str, str]
) -> subprocess.Popen[str]:
    """gunicorn with 2 sync workers on 127.0.0.1:port, serving ``app`` from ``folder``."""
    bind = ["--workers", "2", "--bind", f"127.0.0.1:{port}", "--chdir", str(folder)]
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *bind, *options, app],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


APP_MODULE = textwrap.dedent("""
    from flask import Flask, g
    from lookout import Lookout
    from lookout.flask import LookoutFlask

    app = Flask("gunicorn_app")
    lookout = Lookout(batch_interval=0.05)        # LOOKOUT_STORE from the environment
    LookoutFlask(app, lookout, track_g=["worker"])

    @app.get("/work/<int:n>")
    def work(n):
        import os
        g.worker = os.getpid()
        return str(n)
""")


@pytest.mark.parametrize(
    ("preload", "store_process"),
    [(False, False), (True, False), (True, True)],
    ids=["fork-then-import", "preload", "preload-store-process"],
)
def test_gunicorn_workers_share_one_sqlite_store(
    tmp_path: Path, preload: bool, store_process: bool
) -> None:
    (tmp_path / "served_app.py").write_text(APP_MODULE)
    db = tmp_path / "gunicorn.db"
    port = _free_port()
    options = ["--graceful-timeout", "20", *(["--preload"] if preload else [])]
    env = {"LOOKOUT_STORE": f"sqlite:///{db}", "LOOKOUT_STORE_PROCESS": str(store_process)}
    server = _gunicorn("served_app:app", tmp_path, port, options, env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(port, "/work/0")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        requests = 600
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: _get(port, f"/work/{n}")[0], range(1, requests + 1)))
        assert statuses == [200] * requests
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert "database is locked" not in err
    assert "Traceback" not in err, err
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        count = connection.execute(
            sa.text(
                "SELECT count(*) FROM lookout_events e JOIN lookout_names n ON n.id = e.name_id "
                "WHERE n.name = 'work'"
            )
        ).scalar()
        pids = connection.execute(
            sa.text(
                "SELECT count(DISTINCT s.pid) FROM lookout_events e "
                "JOIN lookout_sources s ON s.id = e.source_id"
            )
        ).scalar()
    engine.dispose()
    assert count == requests + 1  # every request, once, including the readiness probe
    assert pids == 2  # both workers recorded


PROMETHEUS_APP = textwrap.dedent("""
    from flask import Flask
    from lookout import Lookout
    from lookout.flask import LookoutFlask
    from lookout.sinks.prometheus import PrometheusSink

    app = Flask("prom_app")
    lookout = Lookout(store=None, sinks=[PrometheusSink()], batch_interval=0.02)
    LookoutFlask(app, lookout, metrics_url="/metrics")

    @app.get("/work/<int:n>")
    def work(n):
        return str(n)
""")

GUNICORN_CONFIG = textwrap.dedent("""
    from prometheus_client import multiprocess

    def child_exit(server, worker):
        multiprocess.mark_process_dead(worker.pid)
""")


def _count(metrics: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(prefix)
    )


def _health_pids(metrics: str) -> set[str]:
    return {
        line.split('pid="')[1].split('"')[0]
        for line in metrics.splitlines()
        if line.startswith("lookout_queue_depth{")
    }


def test_gunicorn_multiprocess_prometheus_merges_every_worker(tmp_path: Path) -> None:
    (tmp_path / "prom_app.py").write_text(PROMETHEUS_APP)
    (tmp_path / "gunicorn_conf.py").write_text(GUNICORN_CONFIG)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = _free_port()
    server = _gunicorn(
        "prom_app:app",
        tmp_path,
        port,
        ["--config", str(tmp_path / "gunicorn_conf.py")],
        {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    )
    answering: set[str] = set()
    try:
        deadline = time.monotonic() + 30
        while len(answering) < 2:  # until both workers have booted and answered a scrape
            try:
                answering |= _health_pids(_get(port, "/metrics")[1].decode())
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
            assert time.monotonic() < deadline, f"workers answering: {answering}"
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: _get(port, f"/work/{n}")[0], range(300)))
        assert statuses == [200] * 300
        assert _get(port, "/no/such/page")[0] == 404
        route = (
            'lookout_http_request_duration_seconds_count{method="GET",route="work",status="200"}'
        )
        unmatched = 'lookout_http_request_duration_seconds_count{method="GET",route="[unmatched]"'
        deadline = time.monotonic() + 10
        while True:  # the sinks lag by their batch interval
            text = _get(port, "/metrics")[1].decode()
            if (
                _count(text, route) == 300 and _count(text, unmatched) == 1
            ) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert _count(text, route) == 300
        assert _count(text, unmatched) == 1
        assert len(_health_pids(text)) == 1  # the answering worker's own health, labelled
        assert len(list(metrics_dir.glob("histogram_*.db"))) == 2  # one file per worker
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert "Traceback" not in err, err
