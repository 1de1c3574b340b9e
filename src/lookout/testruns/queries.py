"""The questions the Tests page asks of the recorded test runs.

Runs over time per branch, one test's duration per version with its spread over the repeats,
the slowest tests of a run or version, what changed against a baseline (Mann-Whitney U over
the repeats, :mod:`.compare`), flaky tests, and a failure's message and traceback (each
endpoint's latency in tests beside production is :mod:`.latency`).

Every question looks at the runs of a window (``since_ns``, newest :data:`MAX_RUNS` at most),
optionally of one branch, so its cost follows the runs asked about, never the whole history.
Durations are nanoseconds in the store and milliseconds in every answer.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from lookout.store.engine import SqlStore
from lookout.store.schema import test_results, test_runs
from lookout.testruns import compare as comparing
from lookout.testruns import records

#: The most runs any question reads (the newest of its window).
MAX_RUNS = 500
FAILED = records.FAILED_OUTCOMES
NS_PER_MS = 1e6


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, interpolated linearly between ranks (NumPy's
    default), so two repeats give their midpoint rather than one of them."""
    if not ordered:
        raise ValueError("no values")
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values_ns: Iterable[int]) -> dict[str, Any]:
    """n, median, quartiles, min and max (ms) of durations: a box of the repeats."""
    ordered = sorted(values_ns)
    if not ordered:
        return dict.fromkeys(("median_ms", "p25_ms", "p75_ms", "min_ms", "max_ms")) | {"n": 0}
    return {
        "n": len(ordered),
        "median_ms": percentile(ordered, 0.5) / NS_PER_MS,
        "p25_ms": percentile(ordered, 0.25) / NS_PER_MS,
        "p75_ms": percentile(ordered, 0.75) / NS_PER_MS,
        "min_ms": ordered[0] / NS_PER_MS,
        "max_ms": ordered[-1] / NS_PER_MS,
    }


def window_runs(
    store: SqlStore, *, since_ns: int = 0, branch: str | None = None
) -> list[dict[str, Any]]:
    """The runs started since ``since_ns`` (on ``branch``), oldest first, the newest
    :data:`MAX_RUNS` at most."""
    runs = test_runs.c
    query = select(test_runs).where(runs.started_ns >= since_ns)
    if branch is not None:
        query = query.where(runs.branch == branch)
    query = query.order_by(runs.started_ns.desc(), runs.id.desc()).limit(MAX_RUNS)
    with store.read_engine.connect() as connection:
        found = [dict(row._mapping) for row in connection.execute(query)]
    found.reverse()
    return found


def version_order(runs: Iterable[dict[str, Any]]) -> list[str]:
    """Versions in the order their first run started."""
    first: dict[str, int] = {}
    for run in runs:
        first.setdefault(run["version"], run["started_ns"])
        first[run["version"]] = min(first[run["version"]], run["started_ns"])
    return sorted(first, key=lambda version: (first[version], version))


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": run["id"],
        "key": run["run_key"],
        "started_ns": run["started_ns"],
        "duration_ms": run["duration_ns"] / NS_PER_MS,
        "version": run["version"],
        "commit": run["git_commit"],
        "branch": run["branch"],
        "dirty": bool(run["dirty"]),
        "ci_provider": run["ci_provider"],
        "ci_url": run["ci_url"],
        "tests": run["tests"],
        "failed": run["failed"],
        "exit_status": run["exit_status"],
        "repeat": run["repeat"],
    }


def runs_over_time(
    store: SqlStore, *, since_ns: int = 0, branch: str | None = None
) -> dict[str, Any]:
    """Every run of the window (newest last), the branches and versions seen in it."""
    runs = window_runs(store, since_ns=since_ns, branch=branch)
    branches: dict[str, int] = {}
    for run in window_runs(store, since_ns=since_ns):
        branches[run["branch"]] = branches.get(run["branch"], 0) + 1
    return {
        "runs": [_run_summary(run) for run in runs],
        "branches": [{"branch": b, "runs": n} for b, n in sorted(branches.items())],
        "versions": version_order(runs),
    }


def _results(
    run_ids: Sequence[int], *columns: Any, name: str | None = None
) -> Any:  # a Select of test_results rows
    query = select(*columns).where(test_results.c.run_id.in_(list(run_ids)))
    if name is not None:
        query = query.where(test_results.c.name == name)
    return query


def history(
    store: SqlStore, name: str, *, since_ns: int = 0, branch: str | None = None
) -> dict[str, Any]:
    """One test's call durations per version (every repeat of every run pooled), with its
    outcomes, versions in the order they were first tested."""
    runs = window_runs(store, since_ns=since_ns, branch=branch)
    version_of = {run["id"]: run["version"] for run in runs}
    samples: dict[str, list[int]] = {}
    outcomes: dict[str, dict[str, int]] = {}
    run_count: dict[str, set[int]] = {}
    c = test_results.c
    with store.read_engine.connect() as connection:
        rows = connection.execute(
            _results(list(version_of), c.run_id, c.outcome, c.durations, name=name)
        )
        for run_id, outcome, durations in rows:
            version = version_of[run_id]
            counts = outcomes.setdefault(version, {})
            counts[outcome] = counts.get(outcome, 0) + 1
            run_count.setdefault(version, set()).add(run_id)
            if outcome == "passed":
                samples.setdefault(version, []).extend(json.loads(durations))
    versions = [v for v in version_order(runs) if v in outcomes]
    return {
        "name": name,
        "versions": [
            {
                "version": version,
                "runs": len(run_count[version]),
                "passed": outcomes[version].get("passed", 0),
                "failed": sum(outcomes[version].get(o, 0) for o in FAILED),
                **spread(samples.get(version, ())),
            }
            for version in versions
        ],
    }


def slowest(store: SqlStore, ref: str, *, limit: int = 20) -> dict[str, Any]:
    """The tests of the runs ``ref`` names (:func:`records.resolve`), slowest median call
    first, each with the spread of its repeats and its setup and teardown.

    Raises:
        LookupError: no run matches ``ref``.
    """
    found = records.resolve(store, ref)
    c = test_results.c
    per_test: dict[str, dict[str, Any]] = {}
    query = _results(found.run_ids, c.name, c.outcome, c.durations, c.setup_ns, c.teardown_ns)
    with store.read_engine.connect() as connection:
        for name, outcome, durations, setup_ns, teardown_ns in connection.execute(query):
            test = per_test.setdefault(
                name, {"durations": [], "setup": [], "teardown": [], "outcomes": {}}
            )
            test["durations"].extend(json.loads(durations))
            test["setup"].append(setup_ns)
            test["teardown"].append(teardown_ns)
            test["outcomes"][outcome] = test["outcomes"].get(outcome, 0) + 1
    rows = [
        {
            "name": name,
            **spread(test["durations"]),
            "setup_ms": statistics.median(test["setup"]) / NS_PER_MS,
            "teardown_ms": statistics.median(test["teardown"]) / NS_PER_MS,
            "outcomes": test["outcomes"],
        }
        for name, test in per_test.items()
    ]
    rows.sort(key=lambda row: (-(row["median_ms"] or 0.0), row["name"]))
    return {"label": found.label, "run_ids": list(found.run_ids), "tests": rows[:limit]}


def changes(
    store: SqlStore,
    base: str,
    head: str = "latest",
    *,
    alpha: float = comparing.DEFAULT_ALPHA,
    min_change: float = comparing.DEFAULT_MIN_CHANGE,
) -> dict[str, Any]:
    """The tests whose duration changed significantly between two references (slower
    first), with the size of the change and the Mann-Whitney p-value; unchanged are counted.
    A test only the base timed is "failed" when it failed in the head (else "gone").

    Raises:
        LookupError: a reference matches no run.
    """
    base_ref, head_ref = records.resolve(store, base), records.resolve(store, head)
    found = comparing.compare(
        records.durations_by_test(store, base_ref.run_ids),
        records.durations_by_test(store, head_ref.run_ids),
        alpha=alpha,
        min_change=min_change,
    )
    tests = [change.as_dict() for change in found if change.verdict != "unchanged"]
    failed_now = _names(store, head_ref.run_ids, FAILED)
    for test in tests:  # not gone: it ran, and failed (failed runs are not timed)
        if test["verdict"] == "gone" and test["name"] in failed_now:
            test["verdict"] = "failed"
    return {
        "base": {"label": base_ref.label, "run_ids": list(base_ref.run_ids)},
        "head": {"label": head_ref.label, "run_ids": list(head_ref.run_ids)},
        "alpha": alpha,
        "min_change": min_change,
        "summary": comparing.summary_line(found),
        "unchanged": sum(1 for change in found if change.verdict == "unchanged"),
        "tests": tests,
    }


def _names(store: SqlStore, run_ids: Sequence[int], outcomes: Sequence[str]) -> set[str]:
    c = test_results.c
    query = _results(run_ids, c.name).where(c.outcome.in_(list(outcomes)))
    with store.read_engine.connect() as connection:
        return set(connection.execute(query).scalars())


def flaky(store: SqlStore, *, since_ns: int = 0, branch: str | None = None) -> list[dict[str, Any]]:
    """Tests that both passed and failed within one version, the most failures first, with
    the newest failure's run and message."""
    runs = window_runs(store, since_ns=since_ns, branch=branch)
    by_id = {run["id"]: run for run in runs}
    c = test_results.c
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    query = _results(list(by_id), c.run_id, c.name, c.outcome, c.message).where(
        c.outcome.in_(("passed", *FAILED))
    )
    with store.read_engine.connect() as connection:
        for run_id, name, outcome, message in connection.execute(query):
            run = by_id[run_id]
            entry = counts.setdefault(
                (run["version"], name),
                {"passed": 0, "failed": 0, "last_failed_run": None, "last_message": None},
            )
            if outcome == "passed":
                entry["passed"] += 1
                continue
            entry["failed"] += 1
            last = entry["last_failed_run"]
            if last is None or by_id[last]["started_ns"] <= run["started_ns"]:
                entry["last_failed_run"], entry["last_message"] = run_id, message
    rows = [
        {"version": version, "name": name, **entry}
        for (version, name), entry in counts.items()
        if entry["passed"] and entry["failed"]
    ]
    rows.sort(key=lambda row: (-row["failed"], row["name"], row["version"]))
    return rows


def failures(store: SqlStore, ref: str) -> dict[str, Any]:
    """The tests that failed (or errored) in the runs ``ref`` names, with their messages.

    Raises:
        LookupError: no run matches ``ref``.
    """
    found = records.resolve(store, ref)
    c = test_results.c
    query = _results(found.run_ids, c.run_id, c.name, c.outcome, c.message).where(
        c.outcome.in_(FAILED)
    )
    with store.read_engine.connect() as connection:
        rows = [
            {"run_id": run_id, "name": name, "outcome": outcome, "message": message}
            for run_id, name, outcome, message in connection.execute(
                query.order_by(c.run_id.desc(), c.name)
            )
        ]
    return {"label": found.label, "run_ids": list(found.run_ids), "tests": rows}


def failure(store: SqlStore, run_id: int, name: str) -> dict[str, Any] | None:
    """One test of one run whole: outcome, message, traceback, durations and its run."""
    c = test_results.c
    with store.read_engine.connect() as connection:
        row = connection.execute(
            select(test_results).where(c.run_id == run_id, c.name == name).limit(1)
        ).first()
        if row is None:
            return None
        run = connection.execute(select(test_runs).where(test_runs.c.id == run_id)).first()
    assert run is not None
    return {
        "run": _run_summary(dict(run._mapping)),
        "name": row.name,
        "outcome": row.outcome,
        "message": row.message,
        "traceback": row.traceback,
        "worker": row.worker,
        "setup_ms": row.setup_ns / NS_PER_MS,
        "teardown_ms": row.teardown_ns / NS_PER_MS,
        "durations_ms": [value / NS_PER_MS for value in json.loads(row.durations)],
    }


def summary(store: SqlStore, *, since_ns: int = 0) -> list[dict[str, Any]]:
    """Each test over the window's runs, slowest median first: runs, failures, p50/p90/max of
    its per-run median call, and its newest run's outcome and version (``GET /api/tests``)."""
    runs = window_runs(store, since_ns=since_ns)
    by_id = {run["id"]: run for run in runs}
    c = test_results.c
    per_test: dict[str, dict[str, Any]] = {}
    query = _results(list(by_id), c.run_id, c.name, c.outcome, c.call_ns)
    with store.read_engine.connect() as connection:
        for run_id, name, outcome, call_ns in connection.execute(query):
            run = by_id[run_id]
            test = per_test.setdefault(name, {"calls": [], "runs": 0, "failures": 0, "last": None})
            test["runs"] += 1
            test["failures"] += outcome in FAILED
            if outcome == "passed":
                test["calls"].append(call_ns)
            last = test["last"]
            if last is None or last[0] <= run["started_ns"]:
                test["last"] = (run["started_ns"], outcome, run["version"])
    rows = []
    for name, test in per_test.items():
        ordered = sorted(test["calls"])
        last_ns, last_outcome, last_version = test["last"]

        def at(q: float, values: list[int] = ordered) -> float:
            return round(percentile(values, q) / NS_PER_MS, 3) if values else 0.0

        rows.append(
            {
                "name": name,
                "runs": test["runs"],
                "failures": test["failures"],
                "p50_ms": at(0.5),
                "p90_ms": at(0.9),
                "max_ms": at(1.0),
                "last_ns": last_ns,
                "last_outcome": last_outcome,
                "last_version": last_version or None,
            }
        )
    rows.sort(key=lambda row: (-row["p50_ms"], row["name"]))
    return rows
