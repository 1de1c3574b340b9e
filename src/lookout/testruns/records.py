"""Test runs in the SQL store: written whole from a run document, read back per run or version.

A run is written in one transaction (run row, then its results and endpoint hits in batches),
so a reader never sees half a run. Writing the same run again (its ``key``) changes nothing:
a POST retried after a lost answer, or a file submitted twice, is stored once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select

from lookout.store.engine import SqlStore
from lookout.store.schema import test_endpoints, test_results, test_runs
from lookout.testruns.document import RunDocument

FAILED_OUTCOMES = ("failed", "error")


def save_run(store: SqlStore, document: RunDocument) -> tuple[int, bool]:
    """Store a run; returns (run id, True if it was new, False if it was already there)."""
    identity = document.identity
    failed = sum(1 for result in document.results if result.outcome in FAILED_OUTCOMES)
    with store.engine.begin() as connection:
        existing = connection.execute(
            select(test_runs.c.id).where(test_runs.c.run_key == document.key)
        ).scalar()
        if existing is not None:
            return int(existing), False
        inserted = connection.execute(
            test_runs.insert().values(
                run_key=document.key,
                started_ns=document.started_ns,
                duration_ns=document.duration_ns,
                version=str(identity.get("version") or "")[:64],
                git_commit=str(identity.get("commit") or "")[:64],
                branch=str(identity.get("branch") or "")[:255],
                dirty=1 if identity.get("dirty") else 0,
                ci_provider=str(identity.get("ci_provider") or "")[:32],
                ci_run_id=str(identity.get("ci_run_id") or "")[:128],
                ci_url=identity.get("ci_url") or None,
                python=str(identity.get("python") or "")[:32],
                platform=str(identity.get("platform") or "")[:255],
                host=str(identity.get("host") or "")[:255],
                exit_status=document.exit_status,
                repeat=document.repeat,
                tests=len(document.results),
                failed=failed,
            )
        ).inserted_primary_key
        assert inserted is not None
        run_id = int(inserted[0])
        results = [
            {
                "run_id": run_id,
                "name": result.name,
                "outcome": result.outcome,
                "setup_ns": result.setup_ns,
                "call_ns": result.call_ns,
                "teardown_ns": result.teardown_ns,
                "durations": json.dumps(result.durations_ns),
                "worker": result.worker,
                "message": result.message,
                "traceback": result.traceback,
            }
            for result in document.results
        ]
        hits = [
            {
                "run_id": run_id,
                "test": result.name,
                "endpoint": endpoint.endpoint,
                "method": endpoint.method,
                "durations": json.dumps(endpoint.durations_ns),
            }
            for result in document.results
            for endpoint in result.endpoints
        ]
        _insert_in_batches(connection, test_results, results)
        _insert_in_batches(connection, test_endpoints, hits)
    return int(run_id), True


def _insert_in_batches(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 500):
        connection.execute(table.insert(), rows[start : start + 500])


@dataclass(frozen=True)
class Ref:
    """What a comparison side names: a label for people, and the runs it pools."""

    label: str
    run_ids: tuple[int, ...]


def resolve(store: SqlStore, ref: str, *, exclude_key: str | None = None) -> Ref:
    """The runs a reference names, tried in this order:

    - ``run:ID`` or ``run:KEY``: one run by its id or the plugin's key;
    - ``latest`` or ``latest:BRANCH``: the newest run (on that branch);
    - a version: every run of it (repeats pooled across runs);
    - a commit, or its prefix of at least 7 characters: every run of it;
    - a branch: its newest run.

    ``exclude_key`` leaves one run out (the plugin's gate: the run just recorded is never its
    own baseline, so ``latest`` means the one before).

    Raises:
        LookupError: no run matches.
    """
    runs = test_runs.c

    def ids_of(query: Any) -> tuple[int, ...]:
        if exclude_key is not None:
            query = query.where(runs.run_key != exclude_key)
        with store.read_engine.connect() as connection:
            return tuple(int(value) for value in connection.execute(query).scalars())

    newest = select(runs.id).order_by(runs.started_ns.desc(), runs.id.desc()).limit(1)
    if ref.startswith("run:"):
        wanted = ref[4:]
        clause = runs.run_key == wanted
        if wanted.isdigit():
            clause = or_(clause, runs.id == int(wanted))
        return _found(ref, ids_of(select(runs.id).where(clause)), f"run {wanted}")
    if ref == "latest":
        return _found(ref, ids_of(newest), "the latest run")
    if ref.startswith("latest:"):
        branch = ref[7:]
        return _found(ref, ids_of(newest.where(runs.branch == branch)), f"the latest {branch} run")
    ids = ids_of(select(runs.id).where(runs.version == ref))
    if ids:
        return Ref(f"version {ref}", ids)
    if len(ref) >= 7:
        ids = ids_of(select(runs.id).where(runs.git_commit.startswith(ref)))
        if ids:
            return Ref(f"commit {ref[:12]}", ids)
    return _found(ref, ids_of(newest.where(runs.branch == ref)), f"the latest {ref} run")


def _found(ref: str, ids: tuple[int, ...], label: str) -> Ref:
    if not ids:
        raise LookupError(
            f"no test run matches {ref!r} (a version, commit, branch, run:ID or latest)"
        )
    return Ref(label, ids)


def durations_by_test(
    store: SqlStore, run_ids: Sequence[int], *, passed_only: bool = True
) -> dict[str, list[int]]:
    """Every call duration of each test over these runs (repeats of all runs pooled).

    Failed tests are left out by default: a test that stops at its first assertion is fast
    for a reason that says nothing about its speed.
    """
    query = select(test_results.c.name, test_results.c.durations).where(
        test_results.c.run_id.in_(list(run_ids))
    )
    if passed_only:
        query = query.where(test_results.c.outcome == "passed")
    samples: dict[str, list[int]] = {}
    with store.read_engine.connect() as connection:
        for name, durations in connection.execute(query):
            samples.setdefault(name, []).extend(json.loads(durations))
    return {name: values for name, values in samples.items() if values}


def run_rows(store: SqlStore, run_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The run rows of these ids, oldest first, as dictionaries."""
    with store.read_engine.connect() as connection:
        rows = connection.execute(
            select(test_runs).where(test_runs.c.id.in_(list(run_ids))).order_by(test_runs.c.id)
        )
        return [dict(row._mapping) for row in rows]


def count_runs(store: SqlStore) -> int:
    with store.read_engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(test_runs)).scalar() or 0)
