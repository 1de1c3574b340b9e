"""gunicorn with 4 workers, ``--preload`` and ``max_requests`` recycling: every request is
stored exactly once, though workers exit and are forked anew all along (each exiting worker
flushes at exit; each new one starts fresh threads after the fork from the preloaded master).
Requests are told apart by the ``X-Request-ID`` each carries."""

from __future__ import annotations

import collections
import http.client
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.faults.postgres import _free_port

pytest.importorskip("gunicorn")

APP = textwrap.dedent("""
    from flask import Flask
    from lookout import Lookout
    from lookout.flask import LookoutFlask

    app = Flask("recycled")
    lookout = Lookout(batch_interval=0.05)        # LOOKOUT_STORE from the environment
    LookoutFlask(app, lookout)

    @app.get("/work/<int:n>")
    def work(n):
        return str(n)
""")
REQUESTS = 800


def _get(port: int, path: str, request_id: str | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"X-Request-ID": request_id} if request_id else {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.timeout(180)
def test_recycled_preloaded_workers_store_every_request_exactly_once(tmp_path: Path) -> None:
    (tmp_path / "recycled.py").write_text(APP)
    db = tmp_path / "recycled.db"
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--workers", "4", "--preload",
            "--max-requests", "60", "--max-requests-jitter", "20", "--graceful-timeout", "30",
            "--bind", f"127.0.0.1:{port}", "--chdir", str(tmp_path), "recycled:app",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LOOKOUT_STORE": f"sqlite:///{db}"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/work/0") == 200:  # no request id: not among those counted
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda n: _get(port, f"/work/{n}", f"load-{n:05d}"), range(REQUESTS))
            )
        assert statuses == [200] * REQUESTS
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=90)
    assert "Traceback" not in err, err
    recycled = err.count("Booting worker")
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        ids = connection.execute(
            sa.text("SELECT request_id FROM lookout_events WHERE request_id LIKE 'load-%'")
        ).scalars()
        counts = collections.Counter(ids)
    engine.dispose()
    assert recycled >= 4 + 8, err  # workers were replaced many times over
    assert [rid for rid, n in counts.items() if n > 1] == []
    assert set(counts) == {f"load-{n:05d}" for n in range(REQUESTS)}
