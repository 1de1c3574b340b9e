"""``python -m lookout.compat.dashboard.collect_performance``: FMD's test monitoring.

As Flask-MonitoringDashboard's README describes it: with ``DASHBOARD_CONFIG`` (the config file)
and ``DASHBOARD_LOG_DIR`` (a folder, ending with ``/`` as FMD joins it) set, runs the tests in
the config's ``TEST_DIR`` ``N`` times (pytest, which also runs unittest tests), writes
``test_runs.log`` there, groups the tests by the endpoints they hit (the ``endpoint_hits.log``
the app's documented ``after_request`` hook appends to, started by ``config.from_file``), and
POSTs FMD's document ``{"test_runs": [...], "grouped_tests": [...]}`` to
``SUBMIT_RESULTS_URL``, with ``Authorization: Bearer $LOOKOUT_TOKEN`` when that variable is set.
Without a URL the results are kept in ``test_results.json`` in the log folder. A missing
variable or ``TEST_DIR`` prints what to set and exits 0, as FMD's script did; the test run's
own failures do not change the exit status either (they are in the results).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lookout.compat.dashboard.config import Config

TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # str(datetime.now()), as FMD's logs hold it
PLUGIN = "lookout.compat.dashboard.collect_plugin"


def _when(text: str) -> dt.datetime:
    text = text.strip()
    return dt.datetime.strptime(text if "." in text else text + ".0", TIME_FORMAT)


def run_tests(test_dir: str, iterations: int) -> list[dict[str, Any]]:
    """Each test of ``test_dir``, run ``iterations`` times: FMD's ``test_runs`` items plus
    their start and stop times."""
    runs: list[dict[str, Any]] = []
    for iteration in range(1, iterations + 1):
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder, "runs.jsonl")
            subprocess.run(
                [sys.executable, "-m", "pytest", test_dir, "-q", "-p", PLUGIN],
                env={**os.environ, "LOOKOUT_FMD_RUNS": str(output)},
                check=False,
            )
            lines = output.read_text().splitlines() if output.exists() else []
        for line in lines:
            run = json.loads(line)
            run["iter"] = iteration
            runs.append(run)
    return runs


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


def collect(config: Config, log_dir: str) -> dict[str, Any]:
    """Run, log and group as FMD's script did; returns the document to submit."""
    assert config.test_dir is not None
    runs = run_tests(config.test_dir, config.n)
    with open(log_dir + "test_runs.log", "w", newline="") as log:
        log.write('"start_time","stop_time","test_name"\n')
        for run in runs:
            log.write('"{}","{}","{}"\n'.format(run["start"], run["stop"], run["name"]))
    grouped = group_by_endpoint(runs, Path(log_dir + "endpoint_hits.log"))
    test_runs = [
        {key: run[key] for key in ("name", "exec_time", "time", "successful", "iter")}
        for run in runs
    ]
    return {"test_runs": test_runs, "grouped_tests": grouped}


def submit(url: str, document: dict[str, Any]) -> None:
    import requests

    headers = {}
    token = os.environ.get("LOOKOUT_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.post(url, json=document, headers=headers, timeout=60)
    response.raise_for_status()


def main() -> int:
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
    document = collect(config, log_dir)
    if not config.submit_results_url:
        kept = Path(log_dir + "test_results.json")
        kept.write_text(json.dumps(document, indent=1))
        print(f"No SUBMIT_RESULTS_URL in {config_file}: the results are kept in {kept}.")
        return 0
    try:
        submit(config.submit_results_url, document)
    except Exception as error:  # FMD's script printed the failure and went on
        kept = Path(log_dir + "test_results.json")
        kept.write_text(json.dumps(document, indent=1))
        print(f"Sending the test results failed ({error}); they are kept in {kept}.")
        return 0
    print("Sent unit test results to the dashboard.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
