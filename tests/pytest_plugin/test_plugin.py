"""The plugin under real pytest runs (pytester, in subprocesses): what a run stores, repeats,
endpoints, xdist, identity, and that it stays off unless asked."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from sqlalchemy import select

from lookout.store.engine import SqlStore
from lookout.store.schema import test_endpoints, test_results, test_runs
from tests.pytest_plugin.suite import write_suite

pytest_plugins = ("pytester",)
MS = 1_000_000


def stored(url: str) -> tuple[list[dict[str, Any]], dict[tuple[int, str], dict[str, Any]]]:
    """(runs, {(run id, test name): result with its endpoints})."""
    store = SqlStore(url)
    with store.engine.connect() as connection:
        runs = [dict(r._mapping) for r in connection.execute(select(test_runs))]
        results = {
            (r.run_id, r.name.split("::")[-1]): {**r._mapping, "endpoints": {}}
            for r in connection.execute(select(test_results))
        }
        for hit in connection.execute(select(test_endpoints)):
            entry = results[(hit.run_id, hit.test.split("::")[-1])]
            entry["endpoints"][(hit.endpoint, hit.method)] = json.loads(hit.durations)
    store.close()
    return runs, results


def test_a_run_stores_outcomes_phases_repeats_and_endpoints(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    url = f"sqlite:///{pytester.path / 'runs.db'}"
    result = pytester.runpytest_subprocess(
        "--lookout-store", url, "--lookout-repeat", "3", "--lookout-version", "1.0"
    )
    result.assert_outcomes(passed=4, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["lookout: 6 tests recorded as run 1 in sqlite:///*runs.db"])
    [run], results = stored(url)
    assert (run["version"], run["repeat"], run["tests"], run["failed"]) == ("1.0", 3, 6, 1)
    assert run["exit_status"] == 1 and run["python"] and run["duration_ns"] > 0
    outcomes = {name: r["outcome"] for (_, name), r in results.items()}
    assert outcomes == {
        "test_hits_endpoints": "passed",
        "test_with_fixture": "passed",
        "test_slow": "passed",
        "test_steady": "passed",
        "test_broken": "failed",
        "test_skipped": "skipped",
    }
    slow = json.loads(results[(1, "test_slow")]["durations"])
    assert len(slow) == 3 and all(d >= 20 * MS for d in slow)
    assert results[(1, "test_slow")]["call_ns"] == sorted(slow)[1]  # the median
    fixture = results[(1, "test_with_fixture")]
    assert fixture["setup_ns"] >= 30 * MS and fixture["teardown_ns"] >= 20 * MS
    assert all(d < 15 * MS for d in json.loads(fixture["durations"]))  # setup kept apart
    broken = results[(1, "test_broken")]
    assert broken["message"].startswith("AssertionError: one is not two")
    assert "def test_broken" in broken["traceback"]
    assert json.loads(results[(1, "test_skipped")]["durations"]) == []
    hits = results[(1, "test_hits_endpoints")]["endpoints"]
    assert set(hits) == {("slow_view", "GET"), ("fast_view", "GET")}  # not plain_app's
    assert len(hits[("slow_view", "GET")]) == 3 and len(hits[("fast_view", "GET")]) == 6
    assert all(d >= 10 * MS for d in hits[("slow_view", "GET")])
    assert results[(1, "test_steady")]["endpoints"] == {}


def test_xdist_workers_record_into_one_run(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    url = f"sqlite:///{pytester.path / 'runs.db'}"
    result = pytester.runpytest_subprocess(
        "-n", "2", "--lookout-store", url, "--lookout-repeat", "2"
    )
    result.assert_outcomes(passed=4, failed=1, skipped=1)
    [run], results = stored(url)
    assert run["tests"] == 6
    assert {r["worker"] for r in results.values()} == {"gw0", "gw1"}
    assert len(json.loads(results[(1, "test_slow")]["durations"])) == 2
    hits = results[(1, "test_hits_endpoints")]["endpoints"]
    assert len(hits[("fast_view", "GET")]) == 4  # attributed in the worker, carried over


def test_the_run_identity_comes_from_the_repository(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e"]
    for args in (["init", "-q", "-b", "feature-x"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run([*git, *args], cwd=pytester.path, check=True, capture_output=True)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=pytester.path, capture_output=True, text=True, check=True
    ).stdout.strip()
    url = f"sqlite:///{pytester.path / 'runs.db'}"
    pytester.runpytest_subprocess("--lookout-store", url, "-k", "steady")
    [run], _ = stored(url)
    assert (run["git_commit"], run["branch"], run["version"]) == (sha, "feature-x", sha[:12])
    assert run["dirty"] == 0  # runs.db is untracked: not a change to the code under test


def test_lookout_alone_records_into_the_configured_store(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    pytester.runpytest_subprocess("--lookout", "-k", "steady")
    runs, _ = stored(f"sqlite:///{pytester.path / 'lookout.db'}")
    assert len(runs) == 1


def test_the_store_can_come_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester)
    url = f"sqlite:///{pytester.path / 'env.db'}"
    monkeypatch.setenv("LOOKOUT_PYTEST_STORE", url)
    pytester.runpytest_subprocess("-k", "steady")
    assert len(stored(url)[0]) == 1


def test_off_unless_asked(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = pytester.runpytest_subprocess("-k", "steady or slow")
    result.assert_outcomes(passed=2)
    assert "lookout:" not in result.stdout.str()
    assert not list(pytester.path.glob("*.db")) and not (pytester.path / ".lookout").exists()


def test_a_bad_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    result = pytester.runpytest_subprocess(
        "--lookout", "--lookout-baseline", "main", "--lookout-fail-on-regression", "lots"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--lookout-fail-on-regression: expected a percentage*"])
