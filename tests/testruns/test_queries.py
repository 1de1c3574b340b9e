"""The Tests page's questions (lookout.testruns.queries) over real recorded runs, on SQLite and
PostgreSQL: runs stored as the dashboard's API stores them, a production history written
through the real store writer, and runs recorded by the pytest plugin itself (pytester)."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store.engine import SqlStore
from lookout.testruns import latency, queries
from lookout.testruns.document import EndpointHits, RunDocument, TestResult
from lookout.testruns.records import save_run
from lookout.testruns.stats import mann_whitney_u
from tests.conftest import _empty
from tests.pytest_plugin.suite import write_suite

pytest_plugins = ("pytester",)
NS, MS = 1_000_000_000, 1_000_000
NOW_S = int(time.time())
REPEAT = 8


def _noisy(rng: random.Random, median_ms: float, n: int = REPEAT) -> list[int]:
    return [int(rng.lognormvariate(math.log(median_ms), 0.1) * MS) for _ in range(n)]


def _run(
    key: str,
    hours_ago: float,
    version: str,
    branch: str,
    results: list[TestResult],
) -> RunDocument:
    identity = {"version": version, "branch": branch, "commit": f"{abs(hash(key)):040x}"[:40]}
    return RunDocument(
        key=key,
        started_ns=int((NOW_S - hours_ago * 3600) * NS),
        duration_ns=2 * NS,
        exit_status=int(any(r.outcome == "failed" for r in results)),
        repeat=REPEAT,
        identity=identity,
        results=results,
    )


def _history(rng: random.Random) -> list[RunDocument]:
    """1.0 twice on main (test_flaky fails in the second), 1.1 on main with test_search 50 %
    slower, and one run of a feature branch."""

    def results(version: str, flaky_fails: bool) -> list[TestResult]:
        slower = 1.5 if version == "1.1" else 1.0
        return [
            TestResult(
                "t.py::test_search",
                "passed",
                durations_ns=_noisy(rng, 20 * slower),
                endpoints=[EndpointHits("search", "GET", _noisy(rng, 8 * slower, 4))],
            ),
            TestResult("t.py::test_steady", "passed", setup_ns=3 * MS, durations_ns=_noisy(rng, 5)),
            TestResult(
                "t.py::test_flaky",
                "failed" if flaky_fails else "passed",
                durations_ns=_noisy(rng, 2),
                message="AssertionError: timed out" if flaky_fails else None,
                traceback="t.py:9: in test_flaky\nE   AssertionError: timed out"
                if flaky_fails
                else None,
            ),
        ]

    return [
        _run("a", 50, "1.0", "main", results("1.0", False)),
        _run("b", 40, "1.0", "main", results("1.0", True)),
        _run("c", 20, "1.1", "main", results("1.1", False)),
        _run("d", 10, "1.1", "feature/x", results("1.1", False)),
    ]


def _production(url: str) -> None:
    """The search endpoint in production: 1.0 at ~6 ms, 1.1 at ~9 ms (300 requests each)."""
    rng = random.Random(3)
    events = []
    for version, median_ms, hours_ago in (("1.0", 6.0, 45), ("1.1", 9.0, 15)):
        for i in range(300):
            start = int((NOW_S - hours_ago * 3600 + i) * NS)
            duration = int(rng.lognormvariate(math.log(median_ms), 0.2) * MS)
            events.append(Event("request", "search", start, duration, app_version=version))
    sink = SqlSink(url)
    sink.write(events)
    sink.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return _empty(request.getfixturevalue("postgres_database"))


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    _production(url)
    opened = SqlStore(url)
    for document in _history(random.Random(11)):
        save_run(opened, document)
    yield opened
    opened.close()


def test_runs_over_time_per_branch(store: SqlStore) -> None:
    every = queries.runs_over_time(store)
    assert [run["key"] for run in every["runs"]] == ["a", "b", "c", "d"]  # oldest first
    assert every["branches"] == [{"branch": "feature/x", "runs": 1}, {"branch": "main", "runs": 3}]
    assert every["versions"] == ["1.0", "1.1"]
    main = queries.runs_over_time(store, branch="main")
    assert [(r["key"], r["failed"], r["tests"]) for r in main["runs"]] == [
        ("a", 0, 3),
        ("b", 1, 3),
        ("c", 0, 3),
    ]
    assert main["branches"] == every["branches"]  # the branch list is never filtered
    recent = queries.runs_over_time(store, since_ns=(NOW_S - 30 * 3600) * NS)
    assert [run["key"] for run in recent["runs"]] == ["c", "d"]


def test_a_test_s_duration_per_version_with_the_spread_of_its_repeats(store: SqlStore) -> None:
    found = queries.history(store, "t.py::test_search")
    first, second = found["versions"]
    assert (first["version"], first["runs"], first["n"]) == ("1.0", 2, 2 * REPEAT)
    assert (second["version"], second["runs"], second["n"]) == ("1.1", 2, 2 * REPEAT)
    assert first["min_ms"] <= first["p25_ms"] <= first["median_ms"] <= first["p75_ms"]
    assert first["p75_ms"] <= first["max_ms"]
    assert 17 < first["median_ms"] < 23 and 26 < second["median_ms"] < 34
    flaky = queries.history(store, "t.py::test_flaky")["versions"][0]
    assert (flaky["passed"], flaky["failed"], flaky["n"]) == (1, 1, REPEAT)  # failed not timed
    assert queries.history(store, "t.py::test_search", branch="feature/x")["versions"][0]["n"] == (
        REPEAT
    )
    assert queries.history(store, "t.py::nothing")["versions"] == []


def test_the_slowest_tests_of_a_run_or_version(store: SqlStore) -> None:
    latest = queries.slowest(store, "latest")
    assert latest["label"] == "the latest run"
    assert [t["name"] for t in latest["tests"]] == [
        "t.py::test_search",
        "t.py::test_steady",
        "t.py::test_flaky",
    ]
    steady = latest["tests"][1]
    assert steady["n"] == REPEAT and steady["setup_ms"] == 3.0
    assert steady["outcomes"] == {"passed": 1}
    pooled = queries.slowest(store, "1.0", limit=1)
    assert pooled["label"] == "version 1.0" and len(pooled["run_ids"]) == 2
    [top] = pooled["tests"]
    assert top["n"] == 2 * REPEAT
    with pytest.raises(LookupError):
        queries.slowest(store, "9.9")


def test_changes_against_a_baseline_version_with_size_and_p_value(store: SqlStore) -> None:
    found = queries.changes(store, "1.0", "1.1")
    assert found["base"]["label"] == "version 1.0" and found["head"]["label"] == "version 1.1"
    [search] = found["tests"]  # steady and flaky did not change
    assert search["name"] == "t.py::test_search" and search["verdict"] == "slower"
    assert 0.3 < search["change"] < 0.7
    samples = {
        side: [
            d
            for run in queries.window_runs(store)
            if run["version"] == side
            for d in _durations(store, run["id"], "t.py::test_search")
        ]
        for side in ("1.0", "1.1")
    }
    expected = mann_whitney_u(samples["1.1"], samples["1.0"]).p_value
    assert search["p_value"] == pytest.approx(expected) and expected < 0.001
    assert found["unchanged"] == 2 and found["summary"] == "1 slower, 2 unchanged"
    against_run = queries.changes(store, "run:a", "latest:main")
    assert against_run["head"]["label"] == "the latest main run"
    assert [t["name"] for t in against_run["tests"]] == ["t.py::test_search"]
    failed = queries.changes(store, "run:a", "run:b")  # test_flaky failed in b: not timed
    assert [(t["name"], t["verdict"]) for t in failed["tests"]] == [("t.py::test_flaky", "failed")]


def _durations(store: SqlStore, run_id: int, name: str) -> list[int]:
    found = queries.failure(store, run_id, name)
    assert found is not None
    return [round(ms * MS) for ms in found["durations_ms"]]


def test_flaky_tests_failures_and_a_failure_s_traceback(store: SqlStore) -> None:
    [flaky] = queries.flaky(store)
    assert (flaky["version"], flaky["name"], flaky["passed"], flaky["failed"]) == (
        "1.0",
        "t.py::test_flaky",
        1,
        1,
    )
    assert flaky["last_message"] == "AssertionError: timed out"
    assert queries.flaky(store, branch="feature/x") == []
    failed = queries.failures(store, "run:b")
    assert [(t["name"], t["outcome"]) for t in failed["tests"]] == [("t.py::test_flaky", "failed")]
    assert queries.failures(store, "latest")["tests"] == []
    whole = queries.failure(store, flaky["last_failed_run"], "t.py::test_flaky")
    assert whole is not None and whole["run"]["key"] == "b"
    assert whole["traceback"].endswith("E   AssertionError: timed out")
    assert queries.failure(store, flaky["last_failed_run"], "t.py::nothing") is None


def test_endpoint_latency_in_tests_beside_production(store: SqlStore) -> None:
    rows = {(r["endpoint"], r["version"]): r for r in latency.endpoint_latency(store)}
    assert set(rows) == {("search", "1.0"), ("search", "1.1")}
    old, new = rows[("search", "1.0")], rows[("search", "1.1")]
    assert (old["tests"], old["test_requests"], old["methods"]) == (1, 8, ["GET"])
    assert new["test_requests"] == 8  # main and feature/x: 4 requests each
    assert 6.5 < old["test_p50_ms"] < 9.5 and 10 < new["test_p50_ms"] < 14
    assert (old["prod_requests"], new["prod_requests"]) == (300, 300)
    assert 5 < old["prod_p50_ms"] < 7.5 and 7.5 < new["prod_p50_ms"] < 11  # sketch buckets
    assert old["prod_p95_ms"] >= old["prod_p50_ms"]
    feature = latency.endpoint_latency(store, branch="feature/x")
    assert [(r["version"], r["test_requests"]) for r in feature] == [("1.1", 4)]


def test_the_summary_lists_each_test_slowest_first(store: SqlStore) -> None:
    rows = queries.summary(store)
    assert [r["name"] for r in rows] == [
        "t.py::test_search",
        "t.py::test_steady",
        "t.py::test_flaky",
    ]
    flaky = rows[2]
    assert (flaky["runs"], flaky["failures"], flaky["last_outcome"]) == (4, 1, "passed")
    assert rows[0]["last_version"] == "1.1" and rows[0]["p50_ms"] <= rows[0]["p90_ms"]


def test_percentiles_interpolate_between_repeats() -> None:
    assert queries.percentile([1.0, 3.0], 0.5) == 2.0
    assert queries.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.25) == 2.0
    values = [float(v) for v in random.Random(1).sample(range(1000), 99)]
    assert queries.percentile(sorted(values), 0.5) == statistics.median(values)


def test_runs_recorded_by_the_plugin(
    pytester: pytest.Pytester, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two versions of the sample suite through the real plugin (test_slow 5 ms, then
    30 ms): the page's questions find what the runs hold."""
    write_suite(pytester)
    for version, slow_ms in (("1.0", "5"), ("1.1", "30")):
        monkeypatch.setenv("SLOW_MS", slow_ms)
        result = pytester.runpytest_subprocess(
            "--lookout-store", url, "--lookout-repeat", "5", "--lookout-version", version
        )
        result.assert_outcomes(passed=4, failed=1, skipped=1)
    store = SqlStore(url)
    try:
        found = {
            t["name"].split("::")[-1]: t for t in queries.changes(store, "1.0", "1.1")["tests"]
        }
        assert set(found) == {"test_slow"} and found["test_slow"]["verdict"] == "slower"
        assert found["test_slow"]["p_value"] < 0.01 and found["test_slow"]["change"] > 2
        history = queries.history(store, "test_sample.py::test_slow")["versions"]
        assert [(v["version"], v["n"]) for v in history] == [("1.0", 5), ("1.1", 5)]
        assert history[1]["min_ms"] >= 30
        [broken] = queries.failures(store, "latest")["tests"]
        whole = queries.failure(store, broken["run_id"], broken["name"])
        assert whole is not None and "def test_broken" in whole["traceback"]
        assert broken["message"].startswith("AssertionError: one is not two")
        hits = {(r["endpoint"], r["version"]): r for r in latency.endpoint_latency(store)}
        assert set(hits) == {(e, v) for e in ("fast_view", "slow_view") for v in ("1.0", "1.1")}
        assert hits[("slow_view", "1.1")]["test_requests"] == 5  # one request per repeat
        assert hits[("slow_view", "1.1")]["test_p50_ms"] >= 10
        assert hits[("slow_view", "1.1")]["prod_requests"] == 0  # never served in production
    finally:
        store.close()
