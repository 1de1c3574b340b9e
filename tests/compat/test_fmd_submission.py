"""Flask-MonitoringDashboard's test-result submissions reach a live Lookout dashboard over real
HTTP (``POST /dashboard/submit-test-results``, FMD's documented URL) and are stored as test
runs: from a hand-written FMD document, from Lookout's collect_performance on the pytest plugin
(its options honoured), and from the ORIGINAL FMD's collect_performance script, unchanged."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from lookout.store.engine import SqlStore
from lookout.testruns import latency, queries
from tests.compat.originals import CACHE, PIP, original_python
from tests.compat.test_collect_performance import _collect, _project
from tests.pytest_plugin.suite import live_dashboard

pytestmark = pytest.mark.timeout(900)  # subprocesses, and a first run downloads the original

DOCUMENT = {
    "test_runs": [
        {
            "name": "test_a (t.A)",
            "exec_time": 12.5,
            "time": "2026-12-03 10:00:00.100000",
            "successful": True,
            "iter": 1,
        },
        {
            "name": "test_a (t.A)",
            "exec_time": 13.5,
            "time": "2026-12-03 10:00:00.200000",
            "successful": True,
            "iter": 2,
        },
        {
            "name": "test_b (t.A)",
            "exec_time": 2.0,
            "time": "2026-12-03 10:00:00.300000",
            "successful": True,
            "iter": 1,
        },
        {
            "name": "test_b (t.A)",
            "exec_time": 3.0,
            "time": "2026-12-03 10:00:00.400000",
            "successful": False,
            "iter": 2,
        },
    ],
    "grouped_tests": [{"endpoint": "hello", "test_name": "test_a (t.A)"}],
    "app_version": "2.1",
    "travis_job": "77.1",
}


def _runs(url: str) -> list[dict[str, Any]]:
    store = SqlStore(url)
    try:
        return queries.runs_over_time(store)["runs"]
    finally:
        store.close()


def test_an_fmd_document_is_stored_as_a_test_run(sqlite_url: str) -> None:
    with live_dashboard(sqlite_url) as (dashboard, token):
        target = f"{dashboard}/submit-test-results"
        answer = requests.post(target, json=DOCUMENT, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 204 and answer.content == b""  # as FMD answered
        run_id = int(answer.headers["X-Lookout-Run"])
        again = requests.post(target, json=DOCUMENT, headers={"Authorization": f"Bearer {token}"})
        assert again.headers["X-Lookout-Run"] == str(run_id)  # sent twice, stored once
        # the forms an unchanged FMD script can send the token in
        host = dashboard.removeprefix("http://")
        basic = requests.post(f"http://fmd:{token}@{host}/submit-test-results", json=DOCUMENT)
        query = requests.post(f"{target}?token={token}", json=DOCUMENT)
        assert (basic.status_code, query.status_code) == (204, 204)
        assert requests.post(target, json=DOCUMENT).status_code == 401
        wrong = base64.b64encode(b"fmd:lk_wrong_token").decode()
        assert (
            requests.post(
                target, json=DOCUMENT, headers={"Authorization": f"Basic {wrong}"}
            ).status_code
            == 401
        )
        bad = requests.post(
            target,
            json={"test_runs": [{"name": "x"}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert bad.status_code == 400 and "test_runs[0].exec_time" in bad.json()["error"]
    [run] = _runs(sqlite_url)
    assert (run["id"], run["version"], run["repeat"], run["tests"], run["failed"]) == (
        run_id,
        "2.1",
        2,
        2,
        1,
    )
    assert (run["ci_provider"], run["exit_status"]) == ("travis", 1)
    store = SqlStore(sqlite_url)
    try:
        [version] = queries.history(store, "test_a (t.A)")["versions"]
        assert (version["n"], version["min_ms"], version["max_ms"]) == (2, 12.5, 13.5)
        failed = queries.failure(store, run_id, "test_b (t.A)")
        assert failed is not None and failed["message"] == "failed in 1 of 2 iterations"
        [hello] = latency.endpoint_latency(store)
        assert (hello["endpoint"], hello["tests"], hello["test_requests"]) == ("hello", 1, 0)
    finally:
        store.close()


def test_lookout_s_collect_performance_honours_the_plugin_s_options(tmp_path: Path) -> None:
    """SUBMIT_RESULTS_URL to a live Lookout dashboard (FMD's document), and the plugin's own
    --lookout-repeat and --lookout-submit/--lookout-token on the command line (the whole run)."""
    url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    with live_dashboard(url) as (dashboard, token):
        env = _project(tmp_path, f"{dashboard}/submit-test-results")
        env["LOOKOUT_TOKEN"] = token
        result = _collect(
            env,
            tmp_path,
            "--lookout-repeat",
            "3",
            "--lookout-submit",
            dashboard,
            "--lookout-token",
            token,
        )
        assert result.returncode == 0, result.stderr
        assert "Sent unit test results" in result.stdout
    runs = {run["key"].startswith("fmd-"): run for run in _runs(url)}
    assert set(runs) == {True, False}  # FMD's document, and the plugin's own run
    fmd, plugin = runs[True], runs[False]
    assert (fmd["repeat"], fmd["tests"], fmd["version"]) == (3, 2, "1.0")
    assert (plugin["repeat"], plugin["tests"], plugin["version"]) == (3, 2, "1.0")
    store = SqlStore(url)
    try:
        hello = next(n for n in queries.summary(store) if n["name"].endswith("test_hello"))
        [version] = queries.history(store, hello["name"])["versions"]
        assert version["runs"] == 2 and version["n"] == 6  # 3 repeats in each run
        [grouped] = latency.endpoint_latency(store)
        assert grouped["endpoint"] == "hello"
    finally:
        store.close()
    kept_store = tmp_path / "logs" / "lookout-tests.db"
    assert not kept_store.exists()  # --lookout-submit named the destination


def test_without_a_destination_the_run_is_recorded_in_the_log_folder(tmp_path: Path) -> None:
    result = _collect(_project(tmp_path, None), tmp_path)
    assert result.returncode == 0, result.stderr
    [run] = _runs(f"sqlite:///{tmp_path / 'logs' / 'lookout-tests.db'}")
    assert (run["repeat"], run["tests"]) == (2, 2)  # N=2 in the config: --lookout-repeat 2
    kept = json.loads((tmp_path / "logs" / "test_results.json").read_text())
    assert sorted(r["iter"] for r in kept["test_runs"]) == [1, 1, 2, 2]


# -- the original ------------------------------------------------------------------------------
#: The last release whose collect_performance is on PyPI in a form that runs here (5.x has no
#: test monitoring; 2.x neither). Its script: --test_folder, --times, --url (the dashboard's
#: address; it appends /submit-test-results), logs in $HOME, TRAVIS_BUILD_DIR read unchecked.
FMD_WITH_TESTS = "1.13.1"
ORIGINAL_APP = """
import datetime, os
from flask import Flask, request

app = Flask(__name__)
home = os.path.expanduser("~")

@app.get("/hello")
def hello():
    return "hello"

@app.after_request  # the README's hook, writing where this release's script reads
def after_request(response):
    with open(home + "/endpoint_hits.log", "a") as log:
        log.write('"{}","{}"\\n'.format(datetime.datetime.utcnow(), request.endpoint))
    return response
"""
ORIGINAL_TESTS = """
import unittest
from app import app

class HelloTest(unittest.TestCase):
    def test_hello(self):
        self.assertEqual(app.test_client().get("/hello").data, b"hello")

    def test_arithmetic(self):
        self.assertEqual(1 + 1, 2)
"""


def _original_script() -> Path:
    """FMD 1.13.1's collect_performance.py, from its sdist (downloaded once into the cache;
    the package is not installed: the script needs only requests, and its pins of 2018 do not
    install on this Python)."""
    folder = CACHE / f"fmd-{FMD_WITH_TESTS}-sdist"
    script = folder / "collect_performance.py"
    if script.exists():
        return script
    folder.mkdir(parents=True, exist_ok=True)
    name = f"Flask-MonitoringDashboard-{FMD_WITH_TESTS}.tar.gz"
    archive = folder / name
    if not archive.exists():
        done = subprocess.run(
            [
                *PIP,
                "download",
                "--no-deps",
                "-d",
                str(folder),
                f"flask-monitoringdashboard=={FMD_WITH_TESTS}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if not archive.exists():
            pytest.skip(f"FMD {FMD_WITH_TESTS}'s sdist cannot be had here: {done.stderr[-300:]}")
    with tarfile.open(archive) as sdist:
        member = sdist.extractfile(
            f"Flask-MonitoringDashboard-{FMD_WITH_TESTS}/flask_monitoringdashboard/collect_performance.py"
        )
        assert member is not None
        script.write_bytes(member.read())
    return script


def test_the_original_collect_performance_submits_to_lookout(tmp_path: Path) -> None:
    script = _original_script()
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "app.py").write_text(textwrap.dedent(ORIGINAL_APP))
    (tests / "test_app.py").write_text(textwrap.dedent(ORIGINAL_TESTS))
    home = tmp_path / "home"
    home.mkdir()
    (home / "app_version.log").write_text("3.0")  # what this release's app wrote at start
    url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    with live_dashboard(url) as (dashboard, token):
        address = dashboard.replace("http://", f"http://fmd:{token}@")  # requests: HTTP Basic
        done = subprocess.run(
            [
                str(original_python("flask-monitoringdashboard")),
                str(script),
                "--test_folder",
                str(tests),
                "--times",
                "3",
                "--url",
                address,
            ],
            cwd=tests,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={
                **os.environ,
                "HOME": str(home),
                "TRAVIS_BUILD_DIR": str(tmp_path),
                "TRAVIS_JOB_NUMBER": "41.2",
                "PYTHONPATH": str(tests),
            },
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Sent unit test results to the Dashboard at" in done.stdout
    [run] = _runs(url)
    assert (run["version"], run["repeat"], run["tests"], run["failed"]) == ("3.0", 3, 2, 0)
    assert (run["ci_provider"], run["branch"]) == ("travis", "")
    store = SqlStore(url)
    try:
        # unittest's str(test): "test_hello (test_app.HelloTest)" (".test_hello" after the
        # class from Python 3.11 on)
        names = {row["name"].split(" ")[0]: row["name"] for row in queries.summary(store)}
        assert set(names) == {"test_hello", "test_arithmetic"}
        assert all("(test_app.HelloTest" in name for name in names.values())
        [hello] = latency.endpoint_latency(store)
        assert (hello["endpoint"], hello["tests"]) == ("hello", 1)
        [version] = queries.history(store, names["test_hello"])["versions"]
        assert version["n"] == 3 and version["min_ms"] > 0
    finally:
        store.close()
