"""Rollup deltas and their compactor on real PostgreSQL and MariaDB (store/compaction.py).

Many writer processes on one hot name: exact totals, the same percentiles as one writer
writing the same events, no deadlock, and every reader (summaries, the dashboard's series)
answering the same before and after the deltas are merged. A compactor killed half-way
through its merge loses and doubles nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from lookout import make_event
from lookout.dashboard import app_rollups, name_data, overview_data
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store import compaction
from lookout.store.engine import SqlStore
from lookout.store.origin_queries import origin_rollups
from lookout.store.queries import NameSummary, summarize
from lookout.store.retention import prune
from lookout.store.schema import (
    ORIGIN_ROLLUP_TABLES,
    ROLLUP_TABLES,
    events,
    rollup_deltas,
)
from lookout.store.sketch import LatencySketch
from tests.conftest import _empty

NAME = "shop.cart.show"
WRITERS = 6
BATCHES = 120
BATCH = 20
NS = 1_000_000_000

#: One writer process: its events (made from its number), written in batches from a start
#: time all writers share, so that they overlap; prints its sink's figures.
WRITER = textwrap.dedent("""
    import json, sys, time
    from tests.store.test_compaction import writer_batches
    from lookout.sinks.sql import SqlSink
    url, writer, start_at, now_ns = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    batches = writer_batches(writer, now_ns)
    sink = SqlSink(url)
    sink.store
    time.sleep(max(0.0, start_at - time.time()))
    for batch in batches:
        sink.write(batch)
    turns = sink._writer.compaction
    print(json.dumps({"deadlocks": sink.deadlocks_retried, "appended": turns.appended,
                      "compactions": turns.compactions}))
    sink.close()
""")

#: A compactor that merges, then waits to be killed before it could commit.
KILLED_COMPACTOR = textwrap.dedent("""
    import sys, time
    import sqlalchemy as sa
    from lookout.store import compaction
    from lookout.store.engine import SqlStore
    store = SqlStore(sys.argv[1])
    with store.engine.connect() as connection:
        if store.backend != "postgresql":
            connection.execution_options(isolation_level="READ COMMITTED")
        with connection.begin():
            assert compaction.try_lock(connection)
            merged = compaction.merge_as_compactor(connection, [], [])
            print(merged, flush=True)
            time.sleep(120)
""")


def writer_batches(writer: int, now_ns: int) -> list[list[Event]]:
    """Writer ``writer``'s batches: the hot name over two minutes, 5 % errors."""
    import random

    rng = random.Random(writer)
    return [
        [
            make_event(
                "request",
                NAME,
                start_ns=now_ns + rng.randrange(0, 120 * NS),
                duration_ns=int(rng.lognormvariate(16.0, 0.9)),
                status=200,
                app_version="1.5.0",
                outcome="error" if rng.random() < 0.05 else "ok",
            )._replace(host="web-1", pid=1000 + writer)
            for _ in range(BATCH)
        ]
        for _ in range(BATCHES)
    ]


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.integration),
        pytest.param("mysql", marks=pytest.mark.integration),
    ]
)
def server_url(request: pytest.FixtureRequest) -> str:
    """An empty store database on the PostgreSQL or MariaDB server."""
    return _empty(request.getfixturevalue(f"{request.param}_database"))


def _comparable(summaries: list[NameSummary]) -> list[tuple[object, ...]]:
    """Everything a summary says, the standard deviation rounded: its sum of squares is a
    float added in another order by other writers."""
    return [
        (
            s.kind,
            s.name,
            s.count,
            s.errors,
            s.mean_ms,
            round(s.stdev_ms, 9),
            s.min_ms,
            s.max_ms,
            s.p50_ms,
            s.p90_ms,
            s.p95_ms,
            s.p99_ms,
            s.last_ns,
        )
        for s in summaries
    ]


def _answers(store: SqlStore, now_ns: int) -> tuple[object, ...]:
    """What the readers answer: the overview, the apps pages' merged rows, summaries (minute
    and hour rows), the dashboard's series per minute, and the origin rollups per minute."""
    series = name_data.timeseries(store, "request", NAME, range_s=3600, now_ns=now_ns + 200 * NS)
    origins = [
        (r.bucket_start, r.version, r.host, r.delta.count, r.delta.sketch.buckets)
        for r in origin_rollups(
            store, start_s=0, end_s=now_ns // NS + 300, bucket_s=60, group_by="origin"
        )
    ]
    ids = app_rollups.name_ids(store, ("request",))
    start_s = now_ns // NS - 600
    per_name = app_rollups.per_name(store, ids, start_s, start_s + 7200, app_rollups.Filters())
    return (
        overview_data.overview(store, now_ns=now_ns + 200 * NS),
        {key: (m.count, m.errors, m.last_ns, m.buckets) for key, m in per_name.items()},
        _comparable(summarize(store, since_s=3600, now_ns=now_ns + 200 * NS)),
        _comparable(summarize(store, since_s=86400 * 2, now_ns=now_ns + 200 * NS)),
        series,
        origins,
    )


def _main_totals(store: SqlStore) -> list[int]:
    with store.engine.connect() as connection:
        return [
            int(connection.execute(sa.select(sa.func.sum(table.c.count))).scalar() or 0)
            for table in (*ROLLUP_TABLES.values(), *ORIGIN_ROLLUP_TABLES.values())
        ]


def _pending(store: SqlStore) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(rollup_deltas)).scalar_one()
        )


@pytest.mark.timeout(300)
def test_writer_processes_on_one_hot_name_are_exact_and_match_one_writer(
    server_url: str, tmp_path: Path
) -> None:
    now_ns = (time.time_ns() // (60 * NS) - 30) * 60 * NS  # half an hour ago, on a minute
    SqlSink(server_url).store.close()  # the schema first
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    start_at = time.time() + 4.0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    children = [
        subprocess.Popen(
            [sys.executable, str(script), server_url, str(n), str(start_at), str(now_ns)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(WRITERS)
    ]
    outputs = [child.communicate(timeout=240) for child in children]
    figures = []
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        figures.append(json.loads(out))
    assert [f["deadlocks"] for f in figures] == [0] * WRITERS
    assert sum(f["appended"] for f in figures) > 0  # the writers did overlap: deltas written

    last = SqlSink(server_url)  # one more batch, a delta for certain, beside what the
    _write_as_deltas(last, writer_batches(WRITERS, now_ns)[:1])  # writers left pending
    last.close()

    reference = SqlStore(f"sqlite:///{tmp_path / 'one-writer.db'}")
    one = SqlSink(reference)
    for writer in range(WRITERS):
        for batch in writer_batches(writer, now_ns):
            one.write(batch)
    one.write(writer_batches(WRITERS, now_ns)[0])
    expected = _answers(reference, now_ns)

    store = SqlStore(server_url)
    total = WRITERS * BATCHES * BATCH + BATCH
    assert _pending(store) > 0
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == total
    before = _answers(store, now_ns)
    merged = compaction.compact(store.engine)
    after = _answers(store, now_ns)
    assert _pending(store) == 0
    assert _main_totals(store) == [total] * 4
    assert before == after == expected
    assert merged >= 0
    store.close()
    reference.close()


@pytest.mark.timeout(120)
def test_a_compactor_killed_mid_merge_loses_and_doubles_nothing(
    server_url: str, tmp_path: Path
) -> None:
    now_ns = (time.time_ns() // (60 * NS) - 10) * 60 * NS
    sink = SqlSink(server_url)
    store = sink.store
    _write_as_deltas(sink, writer_batches(0, now_ns)[:10])
    pending = _pending(store)
    assert pending > 0
    assert _main_totals(store) == [0, 0, 0, 0]
    expected = _answers(store, now_ns)

    script = tmp_path / "compactor.py"
    script.write_text(KILLED_COMPACTOR)
    child = subprocess.Popen(
        [sys.executable, str(script), server_url], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert int(child.stdout.readline()) == pending  # merged (not committed) when killed
    child.send_signal(signal.SIGKILL)
    child.wait(30)

    assert _pending(store) == pending
    assert _answers(store, now_ns) == expected
    assert compaction.compact(store.engine) == pending  # waits for the server to notice
    assert _pending(store) == 0
    assert _answers(store, now_ns) == expected
    assert _main_totals(store) == [10 * BATCH] * 4
    sink.close()


def _write_as_deltas(sink: SqlSink, batches: list[list[Event]]) -> None:
    """Write batches while another connection holds the compactor lock: each is a delta."""
    store = sink.store
    with store.engine.connect() as holder:
        if store.backend == "postgresql":
            key = {"k": compaction.ADVISORY_LOCK_KEY}
            holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), key)
        else:
            name = {"n": compaction.MYSQL_LOCK_NAME}
            holder.execute(sa.text("SELECT GET_LOCK(:n, 0)"), name)
        for batch in batches:
            sink.write(batch)
        if store.backend == "postgresql":
            holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), key)
        else:
            holder.execute(sa.text("SELECT RELEASE_LOCK(:n)"), name)


def test_retention_deletes_pending_deltas_of_old_buckets(server_url: str) -> None:
    now_ns = time.time_ns()
    sink = SqlSink(server_url)
    _write_as_deltas(sink, writer_batches(1, now_ns - 3 * 3600 * NS)[:3])  # 3 hours ago
    _write_as_deltas(sink, writer_batches(2, now_ns - 300 * NS)[:2])  # 5 minutes ago
    before = _pending(sink.store)
    assert summarize(sink.store, since_s=86400, now_ns=now_ns)[0].count == 5 * BATCH
    prune(sink.store, older_than_s=3600, rollups_older_than_s=7200, now_ns=now_ns)
    cutoff_s = now_ns // NS - 3600
    with sink.store.engine.connect() as connection:
        buckets = connection.execute(sa.select(rollup_deltas.c.bucket_start)).scalars().all()
    assert 0 < len(buckets) < before
    assert min(buckets) >= cutoff_s - 3600  # the recent batches' minutes and hour
    assert summarize(sink.store, since_s=86400, now_ns=now_ns)[0].count == 2 * BATCH
    sink.close()


def test_concatenated_sketches_read_as_their_merge() -> None:
    a = LatencySketch.of([1e6, 2e6, 2e6, 5e9])
    b = LatencySketch.of([2e6, 7e3])
    both = LatencySketch.of([1e6, 2e6, 2e6, 5e9, 2e6, 7e3])
    joined = LatencySketch.from_json(a.to_json()[:-1] + "," + b.to_json()[1:])
    assert joined.buckets == both.buckets
    assert joined.count == 6
