"""Origin rollups (per name, host and app version) on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from lookout import make_event
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store import SqlStore, compaction
from lookout.store.migrate import upgrade
from lookout.store.origin_queries import list_origins, origin_rollups, versions
from lookout.store.queries import summarize
from lookout.store.retention import prune
from lookout.store.schema import origin_rollups_hour, origin_rollups_minute

NS = 1_000_000_000
ORIGINS = [("web-1", "1.0"), ("web-1", "1.1"), ("web-2", "1.1"), ("web-2", "")]


def _events(now_ns: int, count: int, seed: int, span_s: int = 7200) -> list[Event]:
    """Events of two names spread over ``span_s`` seconds, four origins, several pids each."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        host, version = rng.choice(ORIGINS)
        event = make_event(
            "request" if n % 3 else "call",
            "/orders" if n % 3 else "shop.charge",
            start_ns=now_ns - rng.randrange(0, span_s * NS),
            duration_ns=int(rng.lognormvariate(15, 1)),
            outcome="error" if n % 11 == 0 else "ok",
            app_version=version or None,
        )
        made.append(event._replace(host=host, pid=rng.randrange(100, 104)))
    return made


def _expected(batch: list[Event]) -> Counter[tuple[str, str, str]]:
    return Counter((e.name, e.host, e.app_version or "") for e in batch)


def _stored(store: SqlStore, start_s: int) -> Counter[tuple[str, str, str]]:
    rows = origin_rollups(store, start_s=start_s, group_by="origin")
    assert all(r.version is not None and r.host is not None for r in rows)
    return Counter({(r.name, r.host or "", r.version or ""): r.delta.count for r in rows})


def test_counts_per_origin_are_exact_under_concurrent_writers(store_url: str) -> None:
    """Four writers (sinks of their own, as four processes would have) write batches of the
    same names and origins at once; every origin's count, minute and hour, is exact. Each
    writer's batches follow time, as the Recorder's do (a batch spans a minute or two)."""
    now_ns = time.time_ns()
    batches = [
        sorted(_events(now_ns, 1500, seed, span_s=600), key=lambda e: e.start_ns)
        for seed in range(4)
    ]
    SqlSink(store_url).store.close()  # schema made once, before the writers race
    sinks = [SqlSink(store_url) for _ in batches]

    def write(sink: SqlSink, batch: list[Event]) -> None:
        for start in range(0, len(batch), 250):
            for attempt in range(10):  # a refused batch is retried whole, as the Recorder does
                try:
                    sink.write(batch[start : start + 250])
                    break
                except sa.exc.OperationalError:  # MariaDB: a deadlock, rolled back whole
                    time.sleep(0.05 * (attempt + 1))
            else:
                raise AssertionError("a batch was refused ten times")

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(sinks, batches, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [event for batch in batches for event in batch]
    store = sinks[0].store
    start_s = now_ns // NS - 3 * 3600
    assert _stored(store, start_s) == _expected(everything)  # pending deltas read too
    compaction.compact(store.engine)  # then the rollup rows alone, no delta pending
    assert _stored(store, start_s) == _expected(everything)
    with store.read_engine.connect() as connection:
        for table in (origin_rollups_minute, origin_rollups_hour):
            total = connection.execute(sa.select(sa.func.sum(table.c.count))).scalar()
            errors = connection.execute(sa.select(sa.func.sum(table.c.errors))).scalar()
            assert (total, errors) == (6000, sum(e.outcome == "error" for e in everything))
    assert {(o.host, o.version) for o in list_origins(store)} == set(ORIGINS)
    for sink in sinks:
        sink.close()


def test_filters_and_buckets(store_url: str) -> None:
    sink = SqlSink(store_url)
    now_ns = time.time_ns()
    batch = _events(now_ns, 3000, seed=7)
    sink.write(batch)
    store = sink.store
    start_s = now_ns // NS - 3 * 3600
    expected = _expected(batch)

    only = origin_rollups(store, start_s=start_s, version="1.1", group_by="host")
    assert {(r.name, r.host): r.delta.count for r in only} == {
        (name, host): count for (name, host, version), count in expected.items() if version == "1.1"
    }
    on_host = origin_rollups(
        store, start_s=start_s, host="web-2", version="", names_=[("request", "/orders")]
    )
    assert [(r.name, r.delta.count) for r in on_host] == [
        ("/orders", expected[("/orders", "web-2", "")])
    ]
    per_version = origin_rollups(store, start_s=start_s, kinds=["call"], group_by="version")
    # Versions in the order they were first seen, whatever their names' order.
    assert [r.version for r in per_version] == [
        v for v in versions(store) if v in {"1.0", "1.1", ""}
    ]
    assert sum(r.delta.count for r in per_version) == sum(
        c for (name, _, _), c in expected.items() if name == "shop.charge"
    )

    for bucket_s in (60, 600, 3600):
        series = origin_rollups(store, start_s=start_s, bucket_s=bucket_s, host="web-1")
        per_bucket: Counter[tuple[str, int]] = Counter()
        for event in batch:
            if event.host == "web-1":
                per_bucket[(event.name, event.start_ns // NS // bucket_s * bucket_s)] += 1
        assert Counter({(r.name, r.bucket_start or 0): r.delta.count for r in series}) == per_bucket
    assert origin_rollups(store, start_s=start_s, host="nowhere") == []
    sink.close()


def test_one_origin_gives_the_unfiltered_percentiles(store_url: str) -> None:
    """With a single origin, the filtered answer is the plain rollups' answer, sketch and all."""
    sink = SqlSink(store_url)
    now_ns = time.time_ns()
    batch = [e._replace(host="solo", app_version="9") for e in _events(now_ns, 2000, seed=2)]
    sink.write(batch)
    store = sink.store
    plain = {s.name: s for s in summarize(store, since_s=7200, now_ns=now_ns)}
    filtered = origin_rollups(
        store, start_s=now_ns // NS - 7200, end_s=now_ns // NS + 1, version="9", host="solo"
    )
    assert {r.name for r in filtered} == set(plain)
    for row in filtered:
        summary = plain[row.name]
        assert row.delta.count == summary.count and row.delta.errors == summary.errors
        for q, want in ((0.5, summary.p50_ms), (0.95, summary.p95_ms), (0.99, summary.p99_ms)):
            assert (row.delta.sketch.quantile(q) or 0) / 1e6 == want
    sink.close()


def _write_as_version_3(old: SqlStore, batch: list[Event], scratch: Path) -> None:
    """What a version-3 writer stored: the batch written to a new store, and its names,
    sources and events (the columns version 3 has) copied into ``old``."""
    new = SqlStore(f"sqlite:///{scratch / 'new.db'}")
    from lookout.store.writer import BatchWriter

    BatchWriter(new.engine).write(batch)
    with new.engine.connect() as source, old.engine.begin() as target:
        for table in ("lookout_names", "lookout_sources", "lookout_events"):
            columns = [c["name"] for c in sa.inspect(target).get_columns(table)]
            rows = source.execute(sa.text(f"SELECT {', '.join(columns)} FROM {table}")).all()
            target.execute(
                sa.text(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join(':' + c for c in columns)})"
                ),
                [dict(zip(columns, row, strict=True)) for row in rows],
            )
    new.close()


def test_upgrade_fills_origin_rollups_from_stored_events(store_url: str, tmp_path: Path) -> None:
    """A store written at schema version 3 gains origin rollups of every raw event it holds."""
    now_ns = time.time_ns()
    batch = _events(now_ns, 1200, seed=5, span_s=3 * 86400)
    old = SqlStore(store_url, migrate_schema=False)
    upgrade(old.engine, "0003")
    _write_as_version_3(old, batch, tmp_path)
    with old.engine.begin() as connection:
        assert not sa.inspect(connection).has_table("lookout_origins")
    upgrade(old.engine)
    assert _stored(old, now_ns // NS - 4 * 86400) == _expected(batch)
    with old.read_engine.connect() as connection:
        minute = connection.execute(sa.select(sa.func.sum(origin_rollups_minute.c.count))).scalar()
        hour = connection.execute(sa.select(sa.func.sum(origin_rollups_hour.c.count))).scalar()
    assert minute == hour == 1200
    old.close()


def test_prune_removes_old_origin_rollups(store_url: str) -> None:
    sink = SqlSink(store_url)
    now_ns = time.time_ns()
    old = [e._replace(start_ns=now_ns - 3 * 86400 * NS) for e in _events(now_ns, 50, seed=1)]
    sink.write(old + _events(now_ns, 50, seed=2, span_s=60))
    prune(sink.store, older_than_s=86400, rollups_older_than_s=2 * 86400, now_ns=now_ns)
    assert sum(_stored(sink.store, 0).values()) == 50
    sink.close()
