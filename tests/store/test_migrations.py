from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from lookout.store import SqlStore, migrate
from lookout.store.schema import metadata
from lookout.store.sketch import LatencySketch


def test_fresh_store_matches_the_declared_schema(store_url: str) -> None:
    store = SqlStore(store_url)
    with store.engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.HEAD_REVISION
        context = MigrationContext.configure(connection)
        differences = [
            diff
            for diff in compare_metadata(context, metadata)
            if not (diff[0] == "remove_table" and diff[1].name == migrate.VERSION_TABLE)
        ]
    assert differences == []
    store.close()


def test_upgrade_from_the_first_schema_keeps_and_extends_data(store_url: str) -> None:
    engine = SqlStore(store_url, migrate_schema=False).engine
    migrate.upgrade(engine, "0001")
    minute = 1_800_000_000  # epoch seconds, on an hour boundary
    sketch_a = LatencySketch.of([1e6] * 3)
    sketch_b = LatencySketch.of([4e6])
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO lookout_names (kind, name) VALUES ('call', 'old.f')")
        )
        connection.execute(
            sa.text("INSERT INTO lookout_sources (host, pid, app_version) VALUES ('h', 1, '0.9')")
        )
        connection.execute(
            sa.text(
                "INSERT INTO lookout_events (name_id, start_ns, duration_ns, is_error, source_id) "
                "VALUES (1, :start, 1000000, 0, 1)"
            ),
            {"start": minute * 10**9},
        )
        for offset, count, sketch in ((0, 3, sketch_a), (60, 1, sketch_b)):
            connection.execute(
                sa.text(
                    "INSERT INTO lookout_rollups_minute (name_id, bucket_start, count, errors, "
                    "total_ns, sumsq_ms2, min_ns, max_ns, last_ns, sketch) VALUES (1, :bucket, "
                    ":count, 0, :total, 1.0, :low, :high, :last, :sketch)"
                ),
                {
                    "bucket": minute + offset,
                    "count": count,
                    "total": count * 10**6,
                    "low": 10**6 if count == 3 else 4 * 10**6,
                    "high": 10**6 if count == 3 else 4 * 10**6,
                    "last": (minute + offset) * 10**9,
                    "sketch": sketch.to_json(),
                },
            )
    store = SqlStore(store_url)  # opening upgrades to the newest version
    with store.read_engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.HEAD_REVISION
        assert connection.execute(sa.text("SELECT count(*) FROM lookout_events")).scalar() == 1
        hour = connection.execute(
            sa.text("SELECT bucket_start, count, min_ns, max_ns, sketch FROM lookout_rollups_hour")
        ).one()
        assert connection.execute(sa.text("SELECT count(*) FROM lookout_settings")).scalar() == 0
    assert hour.bucket_start == minute
    assert hour.count == 4
    assert (hour.min_ns, hour.max_ns) == (10**6, 4 * 10**6)
    merged = LatencySketch.from_json(hour.sketch)
    assert merged.count == 4 and sorted(json.loads(hour.sketch)[1::2]) == [1, 3]
    store.close()


def test_opening_twice_is_a_no_op(store_url: str) -> None:
    SqlStore(store_url).close()
    store = SqlStore(store_url)
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).all()
    assert [row[0] for row in rows] == [migrate.HEAD_REVISION]
    store.close()


def test_head_revision_is_the_newest_migration_script() -> None:
    config = Config()
    config.set_main_option("script_location", "lookout.store:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD_REVISION


def test_current_revision_reads_what_alembic_reads(store_url: str) -> None:
    engine = SqlStore(store_url, migrate_schema=False).engine

    def both() -> tuple[str | None, str | None]:
        with engine.connect() as connection:
            alembic_view = MigrationContext.configure(
                connection, opts={"version_table": migrate.VERSION_TABLE}
            ).get_current_revision()
            return migrate.current_revision(connection), alembic_view

    assert both() == (None, None)
    migrate.upgrade(engine, "0001")
    assert both() == ("0001", "0001")
    migrate.upgrade(engine)
    assert both() == (migrate.HEAD_REVISION, migrate.HEAD_REVISION)
    engine.dispose()


def test_a_store_at_the_newest_schema_opens_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    SqlStore(url).close()  # created and migrated here, with Alembic
    script = (
        "import sys\n"
        "from lookout import Lookout\n"
        f"lookout = Lookout(store={url!r})\n"
        "lookout.flush(30)\n"
        "assert lookout.store is not None\n"
        "lookout.close()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in "
        "('alembic', 'mako', 'pygments')))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.strip() == "[]"


def test_upgrade_from_version_5_keeps_rollups_and_writers_add_to_them(store_url: str) -> None:
    """A store written by version 5 (rollup rows, no deltas) opens at version 6 with its rows
    as they were, and batches written after the upgrade add to them exactly."""
    from lookout import make_event
    from lookout.sinks.sql import SqlSink
    from lookout.store.queries import summarize

    engine = SqlStore(store_url, migrate_schema=False).engine
    migrate.upgrade(engine, "0005")
    now_s = 1_800_000_000
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO lookout_names (kind, name) VALUES ('request', 'old.page')")
        )
        for table in ("lookout_rollups_minute", "lookout_rollups_hour"):
            connection.execute(
                sa.text(
                    f"INSERT INTO {table} (name_id, bucket_start, count, errors, total_ns, "
                    "sumsq_ms2, min_ns, max_ns, last_ns, sketch) VALUES (1, :bucket, 3, 1, "
                    "3000000, 3.0, 1000000, 1000000, :last, :sketch)"
                ),
                {
                    "bucket": now_s // 3600 * 3600 if "hour" in table else now_s // 60 * 60,
                    "last": now_s * 10**9,
                    "sketch": LatencySketch.of([1e6] * 3).to_json(),
                },
            )
    engine.dispose()
    sink = SqlSink(store_url)  # opening upgrades to the newest version
    with sink.store.engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.HEAD_REVISION
        assert (
            connection.execute(sa.text("SELECT count(*) FROM lookout_rollup_deltas")).scalar() == 0
        )
    sink.write(
        [
            make_event("request", "old.page", start_ns=now_s * 10**9 + n, duration_ns=10**6)
            for n in range(5)
        ]
    )
    [summary] = summarize(sink.store, since_s=600, now_ns=now_s * 10**9 + 10**9)
    assert (summary.count, summary.errors, summary.p50_ms) == (8, 1, 1.0)
    sink.close()
