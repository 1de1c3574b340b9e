"""``python -m lookout.compat.dashboard.collect_performance``, as FMD's README describes it: a
project's tests run N times, grouped by the endpoints they hit (the README's after_request
hook), submitted to SUBMIT_RESULTS_URL or kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.receivers import Receiver

pytestmark = pytest.mark.timeout(900)  # pytest runs in subprocesses

APP = """
import datetime, os
from flask import Flask, request
from lookout.compat import dashboard

app = Flask(__name__)
dashboard.config.from_file(None)  # DASHBOARD_CONFIG; starts endpoint_hits.log
log_dir = os.getenv("DASHBOARD_LOG_DIR")

@app.get("/hello")
def hello():
    return "hello"

@app.after_request  # the README's hook, on the app instead of a blueprint
def after_request(response):
    t1 = str(datetime.datetime.now())
    log = open(log_dir + "endpoint_hits.log", "a")
    log.write("\\"{}\\",\\"{}\\"\\n".format(t1, request.endpoint))
    log.close()
    return response
"""
TESTS = """
from app import app

def test_hello():
    assert app.test_client().get("/hello").data == b"hello"

def test_arithmetic():
    assert 1 + 1 == 2
"""


def _project(tmp_path: Path, url: str | None) -> dict[str, str]:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "app.py").write_text(textwrap.dedent(APP))
    (tests / "test_app.py").write_text(textwrap.dedent(TESTS))
    logs = tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "config.cfg"
    config.write_text(
        f"[dashboard]\nTEST_DIR={tests}\nN=2\nDATABASE=sqlite:///{tmp_path / 'd.db'}\n"
        + (f"SUBMIT_RESULTS_URL={url}\n" if url else "")
    )
    return {
        **os.environ,
        "DASHBOARD_CONFIG": str(config),
        "DASHBOARD_LOG_DIR": f"{logs}/",
        "LOOKOUT_TOKEN": "lk_test_token",
    }


def _collect(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout.compat.dashboard.collect_performance", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_runs_n_times_groups_by_endpoint_and_submits(tmp_path: Path, receiver: Receiver) -> None:
    env = _project(tmp_path, receiver.url)
    result = _collect(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Sent unit test results" in result.stdout
    [request] = receiver.requests
    assert request["headers"]["Authorization"] == "Bearer lk_test_token"  # type: ignore[index]
    document = json.loads(request["body"])  # type: ignore[arg-type]
    runs = document["test_runs"]
    assert sorted((r["name"].split("::")[1], r["iter"]) for r in runs) == [
        ("test_arithmetic", 1),
        ("test_arithmetic", 2),
        ("test_hello", 1),
        ("test_hello", 2),
    ]
    assert all(r["successful"] and r["exec_time"] > 0 for r in runs)
    [hello] = {r["name"] for r in runs if r["name"].endswith("::test_hello")}
    assert document["grouped_tests"] == [{"endpoint": "hello", "test_name": hello}]
    log = (tmp_path / "logs" / "test_runs.log").read_text().splitlines()
    assert log[0] == '"start_time","stop_time","test_name"' and len(log) == 3  # one per test
    assert document["app_version"] == "1.0"  # FMD's default version


def test_without_a_url_the_results_are_kept(tmp_path: Path) -> None:
    result = _collect(_project(tmp_path, None), tmp_path)
    assert result.returncode == 0, result.stderr
    kept = tmp_path / "logs" / "test_results.json"
    assert str(kept) in result.stdout
    assert len(json.loads(kept.read_text())["test_runs"]) == 4


def test_without_the_variables_it_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHBOARD_")}
    result = _collect(env, tmp_path)
    assert result.returncode == 0 and "DASHBOARD_CONFIG" in result.stdout
