"""The pytest plugin: a real pytest run in a subprocess records its tests into a store, and the
dashboard's Tests page reads them back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lookout.dashboard import create_app

SUITE = """
import time
import pytest

def test_fast():
    assert True

def test_slow():
    time.sleep(0.05)

def test_broken():
    assert 1 == 2

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


def run_suite(folder: Path, store: str, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(folder),
            "--lookout-store",
            store,
            "--lookout-version",
            version,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=folder,
    )


def test_a_suite_is_recorded_per_test_and_shown(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_example.py").write_text(SUITE)
    store = f"sqlite:///{tmp_path / 'tests.db'}"
    for version in ("1.0", "1.1"):
        result = run_suite(suite, store, version)
        assert result.returncode == 1, result.stdout  # test_broken fails, as it should
    client = create_app(store, auth=False).test_client()
    rows = {row["name"]: row for row in client.get("/dashboard/api/tests").get_json()["rows"]}
    assert set(rows) == {
        "test_example.py::test_fast",
        "test_example.py::test_slow",
        "test_example.py::test_broken",
        "test_example.py::test_skipped",
    }
    slow = rows["test_example.py::test_slow"]
    assert slow["runs"] == 2 and slow["p50_ms"] >= 45 and slow["last_version"] == "1.1"
    broken = rows["test_example.py::test_broken"]
    assert (broken["failures"], broken["last_outcome"]) == (2, "failed")
    assert rows["test_example.py::test_skipped"]["last_outcome"] == "skipped"
    jobs = client.get("/dashboard/api/jobs").get_json()["rows"]
    assert [(job["name"], job["runs"], job["failures"]) for job in jobs] == [("pytest", 2, 2)]
    page = client.get("/dashboard/tests")
    assert page.status_code == 200


def test_the_plugin_is_off_without_a_store(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0 and not list(tmp_path.glob("*.db"))
