"""Many writers and outages on the ClickHouse store: four writer processes at once lose and
repeat nothing, and the spool keeps every event through a server stop and start."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")

from lookout import Lookout, make_event
from lookout.store.clickhouse.store import ClickHouseStore
from tests.conftest import _unavailable
from tests.store.clickhouse_server import ClickHouseServer, ServerUnavailable

PER_PROCESS = 25_000


def _report(answers: Any, url: str, number: int, count: int) -> None:
    answers.put(_write(url, number, count))


def _write(url: str, number: int, count: int) -> dict[str, Any]:
    """One writer process: ``count`` request events through its own Lookout and Recorder."""
    lk = Lookout(store=url, batch_interval=0.05, spool=False)
    now_ns = time.time_ns()
    for n in range(count):
        lk.emit(
            make_event(
                "request",
                f"/p{n % 7}",
                start_ns=now_ns - n * 1000,
                duration_ns=1_000_000 + n,
                status=200,
                request_id=f"{number}-{n}",
            )
        )
    lk.close(60)
    counters: dict[str, Any] = lk.stats()["sinks"]["clickhouse"]
    return counters


def _count(store: ClickHouseStore, sql: str) -> int:
    return int(store.execute(sql)[0][0])


def test_four_writer_processes_at_once_are_exact(clickhouse_url: str) -> None:
    ClickHouseStore(clickhouse_url).close()  # the schema, before the writers race to make it
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    writers = [
        context.Process(target=_report, args=(answers, clickhouse_url, n, PER_PROCESS))
        for n in range(4)
    ]
    for writer in writers:
        writer.start()
    results = [answers.get(timeout=90) for _ in writers]
    # plain processes, joined: a Pool's terminate() at the end of its with-block hung about
    # once in ten runs here under load, joining a worker idle on the task queue
    for writer in writers:
        writer.join(30)
        assert writer.exitcode == 0
    assert [r["written"] for r in results] == [PER_PROCESS] * 4
    assert all(r["failed"] == r["dropped"] == 0 for r in results)
    store = ClickHouseStore(clickhouse_url)
    events = store.table("lookout_events")
    assert _count(store, f"SELECT count() FROM {events}") == 4 * PER_PROCESS
    assert _count(store, f"SELECT uniqExact(request_id) FROM {events}") == 4 * PER_PROCESS
    for table in ("lookout_rollups_minute", "lookout_rollups_hour"):
        total = f"SELECT sum(c) FROM (SELECT countMerge(count) AS c FROM {store.table(table)})"
        assert _count(store, total) == 4 * PER_PROCESS
    store.close()


def spooling_lookout(url: str, spool: Path) -> Lookout:
    """A Lookout that spools a batch to disk after one quick retry (outage tests)."""
    return Lookout(
        store=url,
        batch_interval=0.05,
        spool_dir=str(spool),
        max_retries=1,
        retry_backoff=0.05,
        retry_max_backoff=0.5,
    )


def wait_for_sink(lk: Lookout, done: Callable[[dict[str, Any]], bool], timeout_s: float) -> None:
    """Until ``done`` holds for the ClickHouse sink's counters (they are in the failure)."""
    deadline = time.monotonic() + timeout_s
    while not done(lk.stats()["sinks"]["clickhouse"]):
        assert time.monotonic() < deadline, lk.stats()["sinks"]["clickhouse"]
        time.sleep(0.1)


def test_the_spool_keeps_events_through_a_server_stop_and_start(tmp_path: Path) -> None:
    server = ClickHouseServer(tmp_path / "server")
    try:
        server.start()
    except ServerUnavailable as error:
        _unavailable("ClickHouse", error)
    try:
        url = f"{server.url('outage')}?settings=sqlite:///{tmp_path / 'settings.db'}"
        lk = spooling_lookout(url, tmp_path / "spool")
        now_ns = time.time_ns()

        def emit(first: int, count: int) -> None:
            for n in range(first, first + count):
                lk.emit(
                    make_event("call", "job", start_ns=now_ns + n, duration_ns=n, request_id=str(n))
                )

        emit(0, 1000)
        assert lk.flush(30)
        server.stop()
        emit(1000, 2000)
        wait_for_sink(lk, lambda sink: sink["spooled"] >= 2000, 30)
        server.start()
        emit(3000, 500)
        assert lk.flush(30)
        wait_for_sink(lk, lambda sink: not sink["spool"]["depth"], 60)
        assert lk.close(30)
        counters = lk.stats()["sinks"]["clickhouse"]
        # each event counted once: written directly, or spooled and replayed from disk (the
        # last 500 too while the sink's backoff after the outage lasted)
        assert counters["written"] + counters["spooled"] == 3500
        assert counters["written"] >= 1000 and counters["spooled"] >= 2000
        assert counters["spool"]["replayed"] == counters["spooled"]
        assert counters["failed"] == counters["dropped"] == 0
        store = ClickHouseStore(url)
        events = store.table("lookout_events")
        assert _count(store, f"SELECT count() FROM {events}") == 3500
        assert _count(store, f"SELECT uniqExact(request_id) FROM {events}") == 3500
        store.close()
    finally:
        server.stop()
