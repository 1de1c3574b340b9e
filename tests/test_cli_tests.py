"""``lookout tests compare`` and the plugin's own gate, on two recorded versions of a suite in
which one test was made slower on purpose (test_slow: 20 ms, then 45 ms)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pytest_plugin.suite import SAMPLE_SUITE

LOOKOUT = str(Path(sys.executable).with_name("lookout"))


def record(folder: Path, url: str, version: str, slow_ms: int, *extra: str) -> tuple[int, str]:
    """One recorded run of the sample suite's two timed tests, 8 repeats each."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--lookout-store", url),
            *("--lookout-version", version, "--lookout-repeat", "8", "-k", "slow or steady"),
            *extra,
        ],
        cwd=folder,
        env={**os.environ, "SLOW_MS": str(slow_ms)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout


def compare(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOOKOUT, "tests", "compare", *args, "--store", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def suite_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("suite")
    (folder / "test_sample.py").write_text(SAMPLE_SUITE)
    return folder


@pytest.fixture(scope="module")
def two_versions(suite_folder: Path) -> str:
    """A store with version 1.0 (test_slow at 20 ms) and 1.1 (at 45 ms) recorded."""
    url = f"sqlite:///{suite_folder / 'runs.db'}"
    assert record(suite_folder, url, "1.0", 20)[0] == 0
    assert record(suite_folder, url, "1.1", 45)[0] == 0
    return url


def test_compare_finds_the_slowed_test_with_its_p_value(two_versions: str) -> None:
    table = compare(two_versions, "1.0", "1.1")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("version 1.1 against version 1.0: 1 slower")
    [row] = [line for line in table.stdout.splitlines() if "test_slow" in line]
    assert row.split()[0] == "slower" and "<0.001" in row and "8/8" in row
    as_json = json.loads(compare(two_versions, "1.0", "1.1", "--format", "json").stdout)
    tests = {t["name"].split("::")[-1]: t for t in as_json["tests"]}
    slow = tests["test_slow"]
    assert slow["verdict"] == "slower" and slow["p_value"] < 0.001 and slow["change"] > 0.8
    assert tests["test_steady"]["verdict"] != "slower" or tests["test_steady"]["change"] < 0.2
    markdown = compare(two_versions, "1.0", "1.1", "--format", "markdown").stdout
    assert markdown.startswith("### Test durations: version 1.1 against version 1.0")
    assert "| 🔴 slower | `test_sample.py::test_slow` |" in markdown


def test_the_gate_fails_only_beyond_its_threshold(two_versions: str) -> None:
    failed = compare(two_versions, "1.0", "1.1", "--fail-on-regression", "20%", "--alpha", "0.01")
    assert failed.returncode == 1
    assert "FAILED: 1 test(s) significantly slower by 20% or more" in failed.stderr
    as_json = json.loads(
        compare(
            two_versions, "1.0", "1.1", "--fail-on-regression", "20%", "--format", "json"
        ).stdout
    )
    assert as_json["regressions"] == ["test_sample.py::test_slow"]
    assert compare(two_versions, "1.0", "1.1", "--fail-on-regression", "300%").returncode == 0
    assert compare(two_versions, "1.1", "1.0", "--fail-on-regression", "20%").returncode == 0
    unknown = compare(two_versions, "1.0", "9.9")
    assert unknown.returncode == 2 and "no test run matches '9.9'" in unknown.stderr


def test_the_plugin_gate_against_a_baseline(suite_folder: Path, two_versions: str) -> None:
    # alpha 0.01: repeats within one run share its machine's load, so a 5 ms sleep can differ
    # between two runs on a busy machine more than its repeats vary (docs/tests.md)
    gate = (
        "--lookout-baseline",
        "1.0",
        "--lookout-fail-on-regression",
        "20%",
        "--lookout-alpha",
        "0.01",
    )
    status, output = record(suite_folder, two_versions, "1.2", 45, *gate)
    assert status == 1  # every test passed: the gate failed the session
    assert "lookout: this run against version 1.0: 1 slower" in output
    assert "lookout: FAILED: 1 test(s) significantly slower by 20% or more" in output
    status, output = record(suite_folder, two_versions, "1.3", 20, *gate)
    assert status == 0, output
    status, output = record(suite_folder, two_versions, "1.4", 20, "--lookout-baseline", "latest")
    assert status == 0 and "against the latest run" in output  # the run before, not itself
