"""The SQL store on SQLite, PostgreSQL and MariaDB: writes, rollups, queries, retention."""

from __future__ import annotations

import random
import time

import pytest
import sqlalchemy as sa

from lookout import make_event
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store import SqlStore
from lookout.store.queries import summarize
from lookout.store.retention import prune
from lookout.store.schema import events, names, rollups_hour, rollups_minute, sources

NS = 1_000_000_000


def _events(
    now_ns: int, count: int, name: str = "shop.charge", error_every: int = 0
) -> list[Event]:
    rng = random.Random(3)
    return [
        make_event(
            "call",
            name,
            start_ns=now_ns - rng.randrange(0, 50 * NS),
            duration_ns=int(rng.lognormvariate(15, 1)),
            error=ValueError("x") if error_every and n % error_every == 0 else None,
            fields={"n": n, "password": "hunter2"} if n % 7 == 0 else None,
            tags={"team": "billing"},
            request_id=f"r{n}",
            group="user-1",
        )
        for n in range(count)
    ]


def test_batches_land_as_rows_and_rollups(store_url: str) -> None:
    sink = SqlSink(store_url)
    now_ns = time.time_ns()
    batch = _events(now_ns, 1200, error_every=10)
    sink.write(batch[:700])
    sink.write(batch[700:])
    store = sink.store
    with store.read_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 1200
        assert connection.execute(sa.select(sa.func.count()).select_from(names)).scalar() == 1
        assert connection.execute(sa.select(sa.func.count()).select_from(sources)).scalar() == 1
        minute_total = connection.execute(sa.select(sa.func.sum(rollups_minute.c.count))).scalar()
        hour_total = connection.execute(sa.select(sa.func.sum(rollups_hour.c.count))).scalar()
        row = connection.execute(
            sa.select(events.c.fields, events.c.tags, events.c.error_type, events.c.is_error).where(
                events.c.request_id == "r0"
            )
        ).one()
    assert minute_total == hour_total == 1200
    assert row.error_type == "ValueError" and row.is_error == 1
    assert '"team":"billing"' in row.tags
    assert '"n":0' in row.fields  # make_event does not redact; the Recorder does
    [summary] = summarize(store, since_s=3600, now_ns=now_ns)
    durations = sorted(e.duration_ns for e in batch)
    exact_p50 = durations[(len(durations) - 1) // 2] / 1e6
    assert summary.count == 1200
    assert summary.errors == 120
    assert summary.p50_ms == pytest.approx(exact_p50, rel=0.011)
    assert summary.max_ms == pytest.approx(durations[-1] / 1e6)
    assert summary.min_ms == pytest.approx(durations[0] / 1e6)
    assert summary.last_ns == max(e.start_ns for e in batch)
    sink.close()


def test_two_writers_merge_into_the_same_rollup_rows(store_url: str) -> None:
    first, second = SqlSink(store_url), SqlSink(store_url)
    now_ns = time.time_ns() // (60 * NS) * (60 * NS) + 5 * NS  # all in one minute
    a = [make_event("call", "same", start_ns=now_ns, duration_ns=10**6) for _ in range(30)]
    b = [make_event("call", "same", start_ns=now_ns, duration_ns=3 * 10**6) for _ in range(10)]
    first.write(a)
    second.write(b)
    first.write(a)
    [summary] = summarize(first.store, since_s=120, now_ns=now_ns + NS)
    assert summary.count == 70
    assert summary.mean_ms == pytest.approx((60 * 1 + 10 * 3) / 70)
    assert summary.p99_ms == pytest.approx(3.0, rel=0.011)
    first.close()
    second.close()


def test_percentiles_never_lie_outside_the_durations_seen(sqlite_url: str) -> None:
    """A sketch bucket's representative value may exceed the largest duration in it."""
    from lookout.store.sketch import bucket_index, bucket_value

    above = [d for d in range(400_000, 500_000, 997) if bucket_value(bucket_index(d)) > d]
    below = [d for d in range(400_000, 500_000, 997) if bucket_value(bucket_index(d)) < d]
    assert above and below  # both cases exist at this resolution
    sink = SqlSink(sqlite_url)
    now_ns = time.time_ns()
    sink.write(
        [
            make_event("call", "high", start_ns=now_ns, duration_ns=above[0]),
            make_event("call", "low", start_ns=now_ns, duration_ns=below[0]),
        ]
    )
    for summary in summarize(sink.store, since_s=120, now_ns=now_ns + NS):
        for value in (summary.p50_ms, summary.p95_ms, summary.p99_ms):
            assert summary.min_ms <= value <= summary.max_ms, summary
    sink.close()


def test_prune_removes_old_events_and_rollups(store_url: str) -> None:
    sink = SqlSink(store_url)
    now_ns = time.time_ns()
    old = [
        make_event("call", "f", start_ns=now_ns - 40 * 86400 * NS, duration_ns=5) for _ in range(20)
    ]
    ancient = [make_event("call", "g", start_ns=now_ns - 500 * 86400 * NS, duration_ns=5)]
    recent = [make_event("call", "f", start_ns=now_ns - 10, duration_ns=5) for _ in range(5)]
    sink.write(old + ancient + recent)
    result = prune(
        sink.store, older_than_s=30 * 86400, rollups_older_than_s=400 * 86400, now_ns=now_ns
    )
    assert (result.events, result.minute_rollups, result.hour_rollups) == (21, 2, 1)
    with sink.store.read_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 5
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(rollups_hour)).scalar() == 2
        )
    sink.close()


def test_long_values_and_unicode_survive_every_database(store_url: str) -> None:
    sink = SqlSink(store_url)
    event = make_event(
        "request",
        "GET /ünïcode/😀",
        fields={"text": "ü" * 5000},
        error=RuntimeError("boom " * 3000),
    )
    sink.write([event])
    with sink.store.read_engine.connect() as connection:
        row = connection.execute(sa.select(events.c.fields, events.c.error_message)).one()
        name = connection.execute(sa.select(names.c.name)).scalar()
    assert name == "GET /ünïcode/😀"
    assert "ü" * 100 in row.fields
    assert row.error_message.startswith("boom boom")
    sink.close()


def test_store_url_errors_are_clear() -> None:
    from lookout.store.engine import StoreConfigError

    with pytest.raises(StoreConfigError, match="not supported"):
        SqlStore("oracle://db")
    with pytest.raises(StoreConfigError, match="not a database URL"):
        SqlStore("::::")


def test_in_memory_sqlite_store_works_across_threads() -> None:
    sink = SqlSink(SqlStore("sqlite://"))
    sink.write([make_event("call", "mem", duration_ns=1)])
    assert summarize(sink.store)[0].count == 1


def test_many_threads_through_lookout_land_exactly_once(sqlite_url: str) -> None:
    import threading

    from lookout import Lookout

    lk = Lookout(store=sqlite_url, batch_size=300, batch_interval=0.01)
    functions = [lk.monitor(name=f"thread-{n}")(lambda: None) for n in range(6)]

    def hammer(function: object) -> None:
        for _ in range(5000):
            function()  # type: ignore[operator]

    threads = [threading.Thread(target=hammer, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lk.flush(60)
    assert lk.store is not None
    counts = {s.name: s.count for s in summarize(lk.store, since_s=600)}
    assert counts == {f"thread-{n}": 5000 for n in range(6)}
    with lk.store.read_engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 30000
    stats = lk.stats()["sinks"]["sql"]
    assert (stats["written"], stats["dropped"], stats["failed"]) == (30000, 0, 0)
    lk.close()


def test_automatic_retention_prunes_from_the_writer(sqlite_url: str) -> None:
    sink = SqlSink(sqlite_url, retention_s=86400, rollup_retention_s=None)
    now_ns = time.time_ns()
    sink.write([make_event("call", "f", start_ns=now_ns - 3 * 86400 * NS, duration_ns=1)])
    sink._next_prune = 0.0  # the hourly prune is due
    sink.write([make_event("call", "f", start_ns=now_ns, duration_ns=1)])
    with sink.store.read_engine.connect() as connection:
        starts = connection.execute(sa.select(events.c.start_ns)).scalars().all()
    assert starts == [now_ns]
    sink.close()


def test_unreachable_database_is_retried_then_counted_failed_with_a_short_error() -> None:
    from lookout import Lookout

    lk = Lookout(
        store="postgresql://nobody@127.0.0.1:1/none",
        spool=False,  # without a spool: retried, then counted failed
        max_retries=1,
        retry_backoff=0.01,
        batch_interval=0.01,
    )
    lk.monitor(name="f")(lambda: None)()
    assert lk.flush(30)
    stats = lk.stats()["sinks"]["sql"]
    assert (stats["written"], stats["failed"], stats["retried"]) == (0, 1, 1)
    assert stats["last_error"].startswith("OperationalError: ")
    assert "\n" not in stats["last_error"]
    lk.close()


def test_null_columns_stay_null_and_an_application_none_adapter_is_kept(sqlite_url: str) -> None:
    import sqlite3

    key = (type(None), sqlite3.PrepareProtocol)
    own = sqlite3.adapters.pop(key, None)
    try:

        def application_adapter(value: None) -> None:
            return value

        sqlite3.register_adapter(type(None), application_adapter)
        sink = SqlSink(sqlite_url)
        sink.write([make_event("call", "shop.noop", start_ns=time.time_ns())])
        assert sqlite3.adapters[key] is application_adapter  # Lookout did not replace it
    finally:
        sqlite3.adapters.pop(key, None)
        if own is not None:
            sqlite3.adapters[key] = own
    sink = SqlSink(sqlite_url)  # now with Lookout's own adapter
    sink.write([make_event("call", "shop.other", start_ns=time.time_ns())])
    with sink.store.read_engine.connect() as connection:
        nulls = connection.execute(
            sa.select(
                sa.func.count(),
                sa.func.sum(sa.case((events.c.group_key.is_(None), 1), else_=0)),
                sa.func.sum(sa.case((events.c.traceback.is_(None), 1), else_=0)),
            )
        ).one()
    assert tuple(nulls) == (2, 2, 2)


def test_values_like_the_sqlite_null_markers_are_stored_as_they_are(store_url: str) -> None:
    """SQLite rows bind NULL as 0 (text columns) or '' (status): real values never match."""
    sink = SqlSink(store_url)
    now = time.time_ns()
    sink.write(
        [
            Event("request", "zero", now, status=0, request_id="0", group="0", client_ip=""),
            Event("message", "blank", now, error_type="", error_message="", traceback="0"),
            Event("call", "nothing", now),
        ]
    )
    columns = (
        events.c.status,
        events.c.request_id,
        events.c.group_key,
        events.c.client_ip,
        events.c.tags,
        events.c.fields,
        events.c.error_type,
        events.c.error_message,
        events.c.traceback,
    )
    with sink.store.read_engine.connect() as connection:
        rows = connection.execute(
            sa.select(names.c.name, *columns)
            .join(names, names.c.id == events.c.name_id)
            .order_by(names.c.name)
        ).all()
    sink.close()
    assert [tuple(row) for row in rows] == [
        ("blank", None, None, None, None, None, None, "", "", "0"),
        ("nothing", *[None] * 9),
        ("zero", 0, "0", "0", "", None, None, None, None, None),
    ]


def test_batches_of_every_size_land_exactly(sqlite_url: str) -> None:
    """Rows go in as full chunks plus power-of-two statements (reused prepared statements)."""
    sink = SqlSink(sqlite_url)
    now_ns = time.time_ns()
    sizes = [1, 2, 3, 7, 999, 1000, 1001, 2500]
    for size in sizes:
        sink.write(_events(now_ns, size, name=f"size-{size}"))
    with sink.store.read_engine.connect() as connection:
        counts = dict(
            connection.execute(
                sa.select(names.c.name, sa.func.count())
                .select_from(events.join(names, names.c.id == events.c.name_id))
                .group_by(names.c.name)
            ).all()
        )
    assert counts == {f"size-{size}": size for size in sizes}


def test_a_batch_that_fails_midway_leaves_nothing_and_the_next_one_lands(sqlite_url: str) -> None:
    """SQLite's batches run on the sqlite3 connection itself: a statement refused after the
    events were inserted must take the whole batch back, and leave the connection usable."""
    sink = SqlSink(sqlite_url)
    minute_start_ns = time.time_ns() // (60 * NS) * (60 * NS)
    now_ns = minute_start_ns + 55 * NS
    sink.write(_events(now_ns, 5))
    with sink.store.engine.begin() as connection:  # a real refusal, from the database itself
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_eighteen BEFORE UPDATE ON lookout_rollups_hour "
            "WHEN NEW.count = 18 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    with pytest.raises(Exception, match="refused by the test"):
        sink.write(_events(now_ns, 13))  # its events and minute rows are written first

    def totals() -> tuple[int, int, int]:
        with sink.store.read_engine.connect() as connection:
            return (
                connection.execute(sa.select(sa.func.count()).select_from(events)).scalar_one(),
                connection.execute(sa.select(sa.func.sum(rollups_minute.c.count))).scalar_one(),
                connection.execute(sa.select(sa.func.sum(rollups_hour.c.count))).scalar_one(),
            )

    assert totals() == (5, 5, 5)
    sink.write(_events(now_ns, 2))
    assert totals() == (7, 7, 7)
    sink.close()


def test_sqlite_batches_keep_to_the_connection_used_last(sqlite_url: str) -> None:
    """Each SQLite connection has its own page cache (emptied when another connection has
    written) and its own prepared statements: batches must not take turns between the
    pool's connections."""
    sink = SqlSink(sqlite_url)
    engine = sink.store.engine
    sink.write(_events(time.time_ns(), 3))
    with engine.connect(), engine.connect():  # a second connection, as start-up may open
        pass
    used: list[int] = []
    sa.event.listen(engine, "checkout", lambda dbapi, _record, _proxy: used.append(id(dbapi)))
    for _ in range(4):
        sink.write(_events(time.time_ns(), 3))
    assert len(used) == 4 and len(set(used)) == 1
    sink.close()


def test_rollups_of_hundreds_of_names_in_one_batch_merge_exactly(sqlite_url: str) -> None:
    """SQLite reads a batch's rollup rows 256 keys at a time, padded to a power of two."""
    sink = SqlSink(sqlite_url)
    now_ns = time.time_ns() // (60 * NS) * (60 * NS) + 30 * NS
    batch = [
        make_event("call", f"task-{n}", start_ns=now_ns, duration_ns=(n + 1) * 1000)
        for n in range(300)
    ]
    sink.write(batch)
    sink.write(batch)
    with sink.store.read_engine.connect() as connection:
        for table in (rollups_minute, rollups_hour):
            rows = connection.execute(sa.select(table.c.count, table.c.total_ns)).all()
            assert len(rows) == 300
            assert sorted(rows) == sorted((2, 2 * (n + 1) * 1000) for n in range(300))
    sink.close()
