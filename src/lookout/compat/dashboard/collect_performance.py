"""``python -m lookout.compat.dashboard.collect_performance [PYTEST OPTIONS]``: FMD's test
monitoring, on Lookout's pytest plugin.

As Flask-MonitoringDashboard's README describes it: with ``DASHBOARD_CONFIG`` (the config file)
and ``DASHBOARD_LOG_DIR`` (a folder, ending with ``/`` as FMD joins it) set, runs the tests in
the config's ``TEST_DIR`` with each test's call repeated ``N`` times (pytest with Lookout's
plugin and ``--lookout-repeat N``; pytest runs unittest tests too), writes ``test_runs.log``
there, groups the tests by the endpoints they hit (the ``endpoint_hits.log`` the app's
documented ``after_request`` hook appends to, started by ``config.from_file``), and POSTs FMD's
document ``{"test_runs": [...], "grouped_tests": [...], "app_version": ...}`` to
``SUBMIT_RESULTS_URL`` (Lookout's dashboard takes it at ``/dashboard/submit-test-results``),
with ``Authorization: Bearer`` and the token of ``$LOOKOUT_TOKEN`` (else the plugin's
``--lookout-token`` / ``$LOOKOUT_PYTEST_TOKEN``). Without a URL the results are kept in
``test_results.json`` in the log folder.

The plugin's options given on the command line (or in their environment variables) are passed
to pytest and honoured: ``--lookout-repeat`` instead of ``N``, ``--lookout-store`` or
``--lookout-submit URL --lookout-token T`` to record the whole run (outcomes, setup and
teardown, each request's duration) as ``pytest --lookout`` does; without either, the run is
recorded into ``lookout-tests.db`` in the log folder. A missing variable or ``TEST_DIR`` prints
what to set and exits 0, as FMD's script did; the test run's own failures do not change the
exit status either (they are in the results).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lookout.compat.dashboard.config import Config

TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # str(datetime.now()), as FMD's logs hold it
PLUGIN = "lookout.compat.dashboard.collect_plugin"


def _when(text: str) -> dt.datetime:
    text = text.strip()
    return dt.datetime.strptime(text if "." in text else text + ".0", TIME_FORMAT)


def _given(argv: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` in ``argv`` (``--flag V`` or ``--flag=V``), "" for a bare flag."""
    for index, arg in enumerate(argv):
        if arg == flag:
            following = argv[index + 1] if index + 1 < len(argv) else ""
            return "" if following.startswith("-") else following
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1 :]
    return None


def pytest_command(config: Config, log_dir: str, argv: Sequence[str]) -> list[str]:
    """pytest with Lookout's plugin on: ``--lookout-repeat N`` and ``--lookout-version`` the
    config's version (APP_VERSION, GIT's commit, else FMD's "1.0") unless ``argv`` or
    ``$LOOKOUT_APP_VERSION`` gives them, and a store in the log folder unless ``argv`` or the
    plugin's environment variables name a destination."""
    assert config.test_dir is not None
    command = [sys.executable, "-m", "pytest", config.test_dir, "-q", "-p", PLUGIN]
    if _given(argv, "--lookout-repeat") is None:
        command += ["--lookout-repeat", str(config.n)]
    if _given(argv, "--lookout-version") is None and not os.environ.get("LOOKOUT_APP_VERSION"):
        command += ["--lookout-version", config.version]
    destinations = ("--lookout", "--lookout-store", "--lookout-submit")
    chosen = any(_given(argv, flag) is not None for flag in destinations)
    if not chosen and not (
        os.environ.get("LOOKOUT_PYTEST_STORE") or os.environ.get("LOOKOUT_PYTEST_SUBMIT")
    ):
        command += ["--lookout-store", f"sqlite:///{Path(log_dir + 'lookout-tests.db').resolve()}"]
    return [*command, *argv]


def run_tests(config: Config, log_dir: str, argv: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Each test of the config's ``TEST_DIR``, its call run ``N`` times: one line per test with
    every repeat's duration and the test's start and stop times."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder, "runs.jsonl")
        subprocess.run(
            pytest_command(config, log_dir, argv),
            env={**os.environ, "LOOKOUT_FMD_RUNS": str(output)},
            check=False,
        )
        lines = output.read_text().splitlines() if output.exists() else []
    return [json.loads(line) for line in lines]


def group_by_endpoint(runs: list[dict[str, Any]], hits_log: Path) -> list[dict[str, str]]:
    """FMD's ``grouped_tests``: each endpoint hit while a test ran, with that test's name."""
    if not hits_log.exists():
        return []
    spans = [(_when(r["start"]), _when(r["stop"]), r["name"]) for r in runs]
    grouped: list[dict[str, str]] = []
    with hits_log.open(newline="") as log:
        for row in csv.DictReader(log):
            try:
                hit = _when(row["time"])
            except (KeyError, ValueError):
                continue  # a line the hook did not write
            for start, stop, name in spans:
                if start <= hit <= stop:
                    pair = {"endpoint": row.get("endpoint") or "", "test_name": name}
                    if pair not in grouped:
                        grouped.append(pair)
                    break
    return grouped


def collect(config: Config, log_dir: str, argv: Sequence[str] = ()) -> dict[str, Any]:
    """Run, log and group as FMD's script did; returns the document to submit (one
    ``test_runs`` item per test and repeat, ``iter`` counting the repeats from 1)."""
    assert config.test_dir is not None
    tests = run_tests(config, log_dir, argv)
    with open(log_dir + "test_runs.log", "w", newline="") as log:
        log.write('"start_time","stop_time","test_name"\n')
        for test in tests:
            log.write('"{}","{}","{}"\n'.format(test["start"], test["stop"], test["name"]))
    grouped = group_by_endpoint(tests, Path(log_dir + "endpoint_hits.log"))
    test_runs = [
        {
            "name": test["name"],
            "exec_time": exec_ms,
            "time": test["time"],
            "successful": test["successful"],
            "iter": iteration,
        }
        for test in tests
        for iteration, exec_ms in enumerate(test["durations_ms"], start=1)
    ]
    return {"test_runs": test_runs, "grouped_tests": grouped, "app_version": config.version}


def submit(url: str, document: dict[str, Any], argv: Sequence[str] = ()) -> None:
    import requests

    headers = {}
    token = (
        os.environ.get("LOOKOUT_TOKEN")
        or _given(argv, "--lookout-token")
        or os.environ.get("LOOKOUT_PYTEST_TOKEN")
    )
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.post(url, json=document, headers=headers, timeout=60)
    response.raise_for_status()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    config_file = os.environ.get("DASHBOARD_CONFIG")
    if not config_file:
        print("Set DASHBOARD_CONFIG to the path of your dashboard config file (config.cfg).")
        return 0
    log_dir = os.environ.get("DASHBOARD_LOG_DIR")
    if not log_dir:
        print("Set DASHBOARD_LOG_DIR to the folder where the test logs are to be placed.")
        return 0
    config = Config()
    config._read(config_file)  # not from_file: that starts a new endpoint_hits.log
    if not config.test_dir:
        print(f"No TEST_DIR in {config_file}: set it to the folder of your tests.")
        return 0
    document = collect(config, log_dir, argv)
    if not config.submit_results_url:
        kept = Path(log_dir + "test_results.json")
        kept.write_text(json.dumps(document, indent=1))
        print(f"No SUBMIT_RESULTS_URL in {config_file}: the results are kept in {kept}.")
        return 0
    try:
        submit(config.submit_results_url, document, argv)
    except Exception as error:  # FMD's script printed the failure and went on
        kept = Path(log_dir + "test_results.json")
        kept.write_text(json.dumps(document, indent=1))
        print(f"Sending the test results failed ({error}); they are kept in {kept}.")
        return 0
    print("Sent unit test results to the dashboard.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
