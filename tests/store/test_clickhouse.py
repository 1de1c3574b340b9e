"""The ClickHouse store against a real clickhouse-server (Debian's 18.16 here): raw events and
rollups written by the Recorder's sink, counts exact, rollups merged by the server, retention
by dropped partitions, percentiles beside the SQL store's on the same events."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")

from lookout import Lookout, make_event
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store.clickhouse import retention, schema
from lookout.store.clickhouse.sink import ClickHouseSink
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.clickhouse.url import parse
from lookout.store.engine import SqlStore, StoreConfigError
from lookout.store.queries import summarize
from lookout.store.retention import prune
from lookout.store.sketch import RELATIVE_ACCURACY
from tests.conftest import _empty

NS = 1_000_000_000
DAY = 86400


def _events(now_ns: int, count: int, *, seed: int = 3, spread_s: int = 50) -> list[Event]:
    rng = random.Random(seed)
    names = ["/checkout", "/search", "/", "/api/items"]
    return [
        make_event(
            "request",
            names[n % len(names)],
            start_ns=now_ns - rng.randrange(0, spread_s * NS),
            duration_ns=int(rng.lognormvariate(15, 1.2)),
            status=500 if n % 17 == 0 else 200,
            error=RuntimeError("boom") if n % 17 == 0 else None,
            app_version=f"1.{n % 3}",
            request_id=f"r{n}",
            group=f"user-{n % 5}" if n % 2 else None,
            client_ip="127.0.0.1",
            fields={"n": n} if n % 7 == 0 else None,
            tags={"team": "web"},
        )
        for n in range(count)
    ]


def _scalar(store: ClickHouseStore, sql: str) -> Any:
    return store.execute(sql)[0][0]


def test_server_is_the_debian_one_and_schema_is_made(clickhouse_url: str) -> None:
    store = ClickHouseStore(clickhouse_url)
    try:
        assert store.server_version().startswith("18.16")
        tables = {row[0] for row in store.execute(f"SHOW TABLES FROM {store.database}")}
        assert {
            "lookout_events",
            "lookout_rollups_minute",
            "lookout_rollups_hour",
            "lookout_rollups_minute_view",
            "lookout_rollups_hour_view",
            "lookout_schema_version",
        } <= tables
        ClickHouseStore(clickhouse_url).close()  # opening again changes nothing
        assert _scalar(store, f"SELECT count() FROM {store.table('lookout_schema_version')}") == 1
        engine = _scalar(
            store,
            f"SELECT engine FROM system.tables WHERE database = '{store.database}' "
            "AND name = 'lookout_rollups_minute'",
        )
        assert engine == "AggregatingMergeTree"
    finally:
        store.close()


def test_url_errors_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="database name"):
        parse("clickhouse://u@h:9000/bad-name")
    with pytest.raises(ValueError, match="unknown option"):
        parse("clickhouse://u@h:9000/db?compress=1")
    with pytest.raises(ValueError, match="SQL database"):
        parse("clickhouse://u@h/db?settings=clickhouse://x/y")
    with pytest.raises(StoreConfigError, match="port"):
        ClickHouseStore("clickhouse://u@h:port/db")
    with pytest.raises(StoreConfigError, match=r"needs a SQL store.*docs/clickhouse\.md"):
        SqlStore("clickhouse://u@h:9000/db")  # what has no ClickHouse side yet says so
    found = parse("clickhouse://me:s%40cret@example:9001/obs?settings=postgresql://p@db/s")
    assert (found.user, found.password, found.port, found.database) == ("me", "s@cret", 9001, "obs")
    assert found.settings_url == "postgresql://p@db/s"
    assert "s@cret" not in found.safe


def test_recorder_counts_exact_and_rollups_merged_by_the_server(clickhouse_url: str) -> None:
    now_ns = time.time_ns()
    batch = _events(now_ns, 30_000)
    lk = Lookout(store=clickhouse_url, batch_interval=0.05, spool=False)
    for event in batch:
        assert lk.emit(event)
    assert lk.flush(30)
    counters = lk.stats()["sinks"]["clickhouse"]
    store = lk.store
    assert isinstance(store, ClickHouseStore)
    lk.close()
    assert counters["written"] == 30_000
    assert counters["failed"] == counters["dropped"] == counters["retried"] == 0
    store = ClickHouseStore(clickhouse_url)
    events = store.table("lookout_events")
    assert _scalar(store, f"SELECT count() FROM {events}") == 30_000
    assert _scalar(store, f"SELECT uniqExact(request_id) FROM {events}") == 30_000
    expected = {}
    for event in batch:
        row = expected.setdefault(event.name, [0, 0, 0])
        row[0] += 1
        row[1] += event.outcome == "error"
        row[2] += event.duration_ns
    for table in ("lookout_rollups_minute", "lookout_rollups_hour"):
        merged = {
            name: [count, errors, total]
            for name, count, errors, total in store.execute(
                "SELECT name, countMerge(count), sumMerge(errors), sumMerge(total_ns) "
                f"FROM {store.table(table)} GROUP BY name"
            )
        }
        assert merged == expected, table
    # The server merges the parts' partial states into one row per key, and loses nothing.
    rollups = store.table("lookout_rollups_minute")
    store.execute(f"OPTIMIZE TABLE {rollups} FINAL")
    keys = _scalar(store, f"SELECT uniqExact(name, bucket_start) FROM {rollups}")
    assert _scalar(store, f"SELECT count() FROM {rollups}") == keys
    after = dict(store.execute(f"SELECT name, countMerge(count) FROM {rollups} GROUP BY name"))
    assert after == {name: row[0] for name, row in expected.items()}
    row = store.execute(
        f"SELECT status, is_error, group_key, fields, tags, error_type, app_version FROM {events} "
        "WHERE request_id = 'r0'"
    )[0]
    assert row == (500, 1, None, '{"n":0}', '{"team":"web"}', "RuntimeError", "1.0")
    store.close()


def test_percentiles_agree_with_the_sql_store_on_the_same_events(
    clickhouse_url: str, postgres_database: str
) -> None:
    now_ns = time.time_ns()
    batch = _events(now_ns, 20_000, seed=11)
    clickhouse = ClickHouseSink(clickhouse_url)
    sql = SqlSink(_empty(postgres_database))  # the session's database: emptied first
    for start in range(0, len(batch), 5000):
        clickhouse.write(batch[start : start + 5000])
        sql.write(batch[start : start + 5000])
    for since_s in (600, 2 * DAY):  # minute rollups, then hour rollups
        ours = {(s.kind, s.name): s for s in summarize(clickhouse.store, since_s=since_s)}
        theirs = {(s.kind, s.name): s for s in summarize(sql.store, since_s=since_s)}
        assert ours.keys() == theirs.keys() and len(ours) == 4
        for key, summary in ours.items():
            other = theirs[key]
            assert (summary.count, summary.errors) == (other.count, other.errors)
            assert (summary.min_ms, summary.max_ms, summary.last_ns) == (
                other.min_ms,
                other.max_ms,
                other.last_ns,
            )
            assert summary.mean_ms == pytest.approx(other.mean_ms, rel=1e-9)
            assert summary.stdev_ms == pytest.approx(other.stdev_ms, rel=1e-6)
            exact = sorted(e.duration_ns for e in batch if e.name == key[1])
            for q, ours_ms, sql_ms in (
                (0.50, summary.p50_ms, other.p50_ms),
                (0.90, summary.p90_ms, other.p90_ms),
                (0.99, summary.p99_ms, other.p99_ms),
            ):
                # the same sketch: within its stated error of the SQL store's and of the truth
                assert ours_ms == pytest.approx(sql_ms, rel=RELATIVE_ACCURACY)
                true_ms = exact[int(q * (len(exact) - 1))] / 1e6
                assert ours_ms == pytest.approx(true_ms, rel=2 * RELATIVE_ACCURACY)
    clickhouse.close()
    sql.close()


def test_retention_drops_whole_day_partitions(clickhouse_url: str) -> None:
    now_ns = (time.time_ns() // (DAY * NS)) * DAY * NS + 12 * 3600 * NS  # noon today, UTC
    sink = ClickHouseSink(clickhouse_url)
    for days_ago in (0, 2, 3, 40):
        sink.write(_events(now_ns - days_ago * DAY * NS, 1000, seed=days_ago, spread_s=60))
    store = sink.store
    before = retention.partitions(store, "lookout_events")
    assert len(before) == 4 and sum(before.values()) == 4000
    trial = prune(store, older_than_s=1.5 * DAY, now_ns=now_ns, dry_run=True)
    assert (trial.events, trial.hour_rollups) == (3000, 0)
    assert trial.minute_rollups > 0
    assert retention.partitions(store, "lookout_events") == before  # a dry run drops nothing
    months = retention.partitions(store, "lookout_rollups_hour")
    result = prune(store, older_than_s=1.5 * DAY, rollups_older_than_s=3 * DAY, now_ns=now_ns)
    assert result.events == 3000
    # the month 40 days back ended before the cutoff; the one 3 days back did not
    assert result.hour_rollups > 0
    assert len(retention.partitions(store, "lookout_rollups_hour")) == len(months) - 1
    assert sum(s.count for s in summarize(store, since_s=400 * DAY, now_ns=now_ns)) == 3000
    left = retention.partitions(store, "lookout_events")
    assert list(left.values()) == [1000]
    assert _scalar(store, f"SELECT count() FROM {store.table('lookout_events')}") == 1000
    minutes = retention.partitions(store, "lookout_rollups_minute")
    assert list(minutes) == list(left)  # minute rollups go with their day's events
    for table in schema.DAY_TABLES:  # the dashboard's origin rollups and sketch rows too
        assert list(retention.partitions(store, table)) == list(left), table
    for table in schema.MONTH_TABLES:
        assert len(retention.partitions(store, table)) == len(months) - 1, table
    assert [s.count for s in summarize(store, since_s=DAY, now_ns=now_ns)] == [250] * 4
    sink.close()


def test_settings_live_in_the_sql_store_beside_clickhouse(clickhouse_url: str) -> None:
    from lookout.store.settings import read_settings, write_setting

    store = ClickHouseStore(clickhouse_url)
    write_setting(store, "level:/checkout", "2")
    again = ClickHouseStore(clickhouse_url)
    assert read_settings(again, "level:") == {"/checkout": "2"}
    assert again.settings_backend == "sqlite"
    assert again.settings_url.endswith("settings.db")
    # nothing of it went to ClickHouse
    tables = {row[0] for row in store.execute(f"SHOW TABLES FROM {store.database}")}
    assert not any("setting" in table for table in tables)
    store.close()
    again.close()
