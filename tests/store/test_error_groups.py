"""Error groups kept by the writer, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import sqlalchemy as sa

from lookout.events import ERROR, OK, Event
from lookout.sinks.sql import SqlSink
from lookout.store import SqlStore
from lookout.store.error_groups import set_status
from lookout.store.migrate import upgrade
from lookout.store.retention import prune

NS = 1_000_000_000
HOUR_NS = 3600 * NS


def _traceback(function: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/.venv/lib/python3.12/site-packages/flask/app.py", line 880, in dispatch\n'
        "    rv = view()\n"
        f'  File "/srv/shop/shop/views.py", line {random.randrange(1, 400)}, in {function}\n'
        "    return prices[sku]\n"
        "KeyError: 'sku'\n"
    )


def _error(kind: int, start_ns: int, version: str = "1.0", user: str | None = None) -> Event:
    """Three bugs: a KeyError in checkout, one in refund, and a 503 without exception."""
    if kind == 2:
        return Event("request", "/health", start_ns, 1000, ERROR, 503, app_version=version)
    function = ("checkout", "refund")[kind]
    return Event(
        "request",
        f"/{function}",
        start_ns,
        1000,
        ERROR,
        500,
        app_version=version,
        group=user,
        error_type="KeyError",
        error_message=f"'sku-{random.randrange(1000)}'",
        traceback=_traceback(function),
    )


def _groups(store: SqlStore) -> dict[str, tuple[int, str, int, str, str]]:
    """culprit -> (count, status, regression, first version, last version)."""
    with store.read_engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT culprit, count, status, regression, first_version, last_version "
                "FROM lookout_error_groups"
            )
        ).all()
    return {row[0]: (int(row[1]), row[2], int(row[3]), row[4], row[5]) for row in rows}


def _scalar(store: SqlStore, sql: str) -> int:
    with store.read_engine.connect() as connection:
        return int(connection.execute(sa.text(sql)).scalar() or 0)


def test_group_counts_are_exact_under_concurrent_writers(store_url: str) -> None:
    """Four writers (sinks of their own, as four processes would have) store the same bugs at
    once, mixed with successful requests: each group's count, its hourly buckets and the
    events carrying its id agree exactly with what was written."""
    now_ns = time.time_ns()
    rng = random.Random(7)
    batches = []
    for writer in range(4):
        batch = []
        for n in range(1200):
            start = now_ns - rng.randrange(0, 2 * HOUR_NS)
            if n % 3:
                batch.append(Event("request", "/checkout", start, 1000, OK, 200))
            else:
                user = f"user-{rng.randrange(25)}"
                batch.append(_error(rng.randrange(3), start, f"1.{writer % 2}", user))
        batches.append(sorted(batch, key=lambda e: e.start_ns))
    SqlSink(store_url).store.close()  # schema made once, before the writers race
    sinks = [SqlSink(store_url) for _ in batches]

    def write(sink: SqlSink, batch: list[Event]) -> None:
        for start in range(0, len(batch), 100):
            sink.write(batch[start : start + 100])

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(sinks, batches, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [event for batch in batches for event in batch if event.outcome == ERROR]
    expected = Counter("shop.views." + e.name[1:] if e.traceback else e.name for e in everything)
    store = sinks[0].store
    groups = _groups(store)
    assert {culprit: row[0] for culprit, row in groups.items()} == expected
    assert len(groups) == 3
    assert _scalar(store, "SELECT sum(count) FROM lookout_error_buckets") == len(everything)
    assert _scalar(
        store, "SELECT count(*) FROM lookout_events WHERE error_group_id IS NOT NULL"
    ) == len(everything)
    assert _scalar(store, "SELECT count(*) FROM lookout_events WHERE error_group_id IS NULL") == (
        4 * 1200 - len(everything)
    )
    users = {(e.name, e.group) for e in everything if e.group}
    assert _scalar(store, "SELECT count(*) FROM lookout_error_users") == len(users)
    for sink in sinks:
        sink.close()


def test_versions_and_a_resolved_group_that_recurs_is_a_regression(store_url: str) -> None:
    sink = SqlSink(store_url)
    now_ns = time.time_ns()
    sink.write([_error(0, now_ns - 50 * NS, "1.0"), _error(0, now_ns - 60 * NS, "0.9")])
    sink.write([_error(0, now_ns - 40 * NS, "1.1"), _error(2, now_ns - 40 * NS)])
    store = sink.store
    assert _groups(store)["shop.views.checkout"] == (3, "unresolved", 0, "0.9", "1.1")
    group_id = _scalar(store, "SELECT id FROM lookout_error_groups WHERE error_type = 'KeyError'")
    other_id = _scalar(store, "SELECT id FROM lookout_error_groups WHERE error_type = 'HTTP 503'")
    assert set_status(store.engine, group_id, "resolved", now_ns=now_ns - 30 * NS)
    assert set_status(store.engine, other_id, "ignored", now_ns=now_ns - 30 * NS)
    assert not set_status(store.engine, 10_000, "resolved")
    # an occurrence from before the resolve (a late batch) does not reopen it
    sink.write([_error(0, now_ns - 35 * NS, "1.1"), _error(2, now_ns - 20 * NS)])
    assert _groups(store)["shop.views.checkout"] == (4, "resolved", 0, "0.9", "1.1")
    sink.write([_error(0, now_ns - 10 * NS, "1.2")])
    assert _groups(store)["shop.views.checkout"] == (5, "unresolved", 1, "0.9", "1.2")
    assert _groups(store)["/health"][:3] == (2, "ignored", 0)  # ignored stays ignored
    regressed = _scalar(
        store, f"SELECT regressed_ns FROM lookout_error_groups WHERE id = {group_id}"
    )
    assert regressed == now_ns - 10 * NS
    assert set_status(store.engine, group_id, "resolved")
    assert _groups(store)["shop.views.checkout"][1:3] == ("resolved", 0)
    sink.close()


def test_retention_removes_old_buckets_and_silent_groups(store_url: str) -> None:
    sink = SqlSink(store_url)
    now_ns = time.time_ns()
    old, recent = now_ns - 40 * 24 * HOUR_NS, now_ns - 60 * NS
    sink.write([_error(0, old), _error(1, old), _error(1, recent)])
    store = sink.store
    prune(store, older_than_s=7 * 86400, rollups_older_than_s=30 * 86400, now_ns=now_ns)
    # checkout's only occurrence is gone: its group too; refund occurred since and stays
    groups = _groups(store)
    assert set(groups) == {"shop.views.refund"}
    assert groups["shop.views.refund"][0] == 2  # its count is its whole history
    assert _scalar(store, "SELECT sum(count) FROM lookout_error_buckets") == 1
    assert _scalar(store, "SELECT count(*) FROM lookout_events") == 1
    # the writer had the deleted group cached: it is registered again, the count exact
    sink.write([_error(0, recent), _error(0, recent + 1)])
    assert _groups(store)["shop.views.checkout"][0] == 2
    assert _scalar(store, "SELECT sum(count) FROM lookout_error_buckets") == 3
    sink.close()


def test_upgrade_from_0004_keeps_events_and_groups_new_errors(store_url: str) -> None:
    engine = SqlStore(store_url, migrate_schema=False).engine
    upgrade(engine, "0004")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO lookout_names (kind, name) VALUES ('call', 'f')"))
        connection.execute(
            sa.text("INSERT INTO lookout_sources (host, pid, app_version) VALUES ('h', 1, '')")
        )
        connection.execute(
            sa.text(
                "INSERT INTO lookout_events (name_id, start_ns, duration_ns, is_error, source_id, "
                "error_type) VALUES (1, 5, 10, 1, 1, 'KeyError')"
            )
        )
    engine.dispose()
    sink = SqlSink(store_url)
    store = sink.store
    with store.read_engine.connect() as connection:
        old = connection.execute(
            sa.text("SELECT error_type, error_group_id FROM lookout_events")
        ).all()
    assert [tuple(row) for row in old] == [("KeyError", None)]
    sink.write([_error(1, time.time_ns())])
    assert _groups(store)["shop.views.refund"][0] == 1
    sink.close()
