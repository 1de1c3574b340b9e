"""A sample suite with a Flask app under LookoutFlask, and a dashboard served over real HTTP,
for the plugin's tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from lookout.dashboard import create_app
from lookout.dashboard.auth import Authenticator
from lookout.store.engine import SqlStore

#: test_slow sleeps SLOW_MS (default 20) ms; the fixture takes 30 ms to set up, 20 to tear down.
SAMPLE_SUITE = """
import os
import time

import pytest
from flask import Flask

from lookout import Lookout
from lookout.flask import LookoutFlask

app = Flask("sample")
LookoutFlask(app, Lookout(store=None), dashboard_url=None)
plain_app = Flask("plain")  # without LookoutFlask: its requests are not attributed


@app.get("/slow")
def slow_view():
    time.sleep(0.01)
    return "slow"


@app.get("/fast")
def fast_view():
    return "fast"


@plain_app.get("/")
def plain_view():
    return "plain"


@pytest.fixture
def prepared():
    time.sleep(0.03)
    yield
    time.sleep(0.02)


def test_hits_endpoints():
    client = app.test_client()
    assert client.get("/slow").status_code == 200
    assert client.get("/fast").status_code == 200
    assert client.get("/fast").status_code == 200
    assert plain_app.test_client().get("/").status_code == 200


def test_with_fixture(prepared):
    pass


def test_slow():
    time.sleep(float(os.environ.get("SLOW_MS", "20")) / 1000)


def test_steady():
    time.sleep(0.03)  # long enough that a loaded machine's oversleep stays under 20 %


def test_broken():
    assert 1 == 2, "one is not two"


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


def write_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sample=SAMPLE_SUITE)


@contextmanager
def live_dashboard(store_url: str) -> Iterator[tuple[str, str]]:
    """A dashboard over ``store_url`` on 127.0.0.1 (a real server in a thread), and an admin
    API token for it: yields (dashboard URL, token)."""
    store = SqlStore(store_url)
    _, token = Authenticator(store, enabled=True).create_token("ci", "admin")
    store.close()
    app = create_app(store_url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/dashboard", token
    finally:
        server.shutdown()
        thread.join(5)


def kept_files(folder: Path) -> list[Path]:
    return sorted((folder / ".lookout" / "test-runs").glob("*.json"))
