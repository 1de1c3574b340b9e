"""MySQL/MariaDB: eight writers merging into the same rollup rows never surface a deadlock and
never lose an event.

Each writer is a Lookout of its own (its own sink, pool and connections, as eight processes
would have) recording calls of one function in batches of 20, so every batch of every writer
merges into the same minute and hour rows at once.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from lookout import Lookout
from lookout.sinks.sql import SqlSink
from lookout.store import compaction
from lookout.store.schema import ROLLUP_TABLES, events
from tests.conftest import _empty

WRITERS = 8
EVENTS_PER_WRITER = 1500


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_eight_writers_on_one_name_no_deadlock_surfaces_and_nothing_is_lost(
    mysql_database: str,
) -> None:
    url = _empty(mysql_database)
    setup = Lookout(store=url)
    assert setup.store is not None  # opens it: the schema is made once, before the race
    setup.close()
    instances = [
        Lookout(store=url, batch_size=20, batch_interval=0.005, max_retries=0)
        for _ in range(WRITERS)
    ]

    def produce(lk: Lookout) -> None:
        @lk.monitor(name="shop.hot")
        def hot() -> None:
            pass

        for _ in range(EVENTS_PER_WRITER):
            hot()

    threads = [threading.Thread(target=produce, args=(lk,)) for lk in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats: list[dict[str, Any]] = []
    deadlocks = 0
    for lk in instances:
        assert lk.flush(120)
        stats.append(lk.stats()["sinks"]["sql"])
        sink = lk.sinks[0]
        assert isinstance(sink, SqlSink)
        deadlocks += sink.deadlocks_retried
        lk.close()
    total = WRITERS * EVENTS_PER_WRITER
    # max_retries=0: a deadlock that reached the Recorder would count as failed at once
    assert [s["failed"] for s in stats] == [0] * WRITERS, stats
    assert [s["retried"] for s in stats] == [0] * WRITERS, stats
    assert sum(s["written"] for s in stats) == total
    engine = sa.create_engine(url)
    compaction.compact(engine)  # the rollup rows alone, without the deltas still pending
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == total
        for table in ROLLUP_TABLES.values():
            counted = connection.execute(sa.select(sa.func.sum(table.c.count))).scalar()
            assert counted == total, table.name
    engine.dispose()
    print(f"deadlocks detected by the server and retried inside the writer: {deadlocks}")
    assert deadlocks < 10  # INSERT IGNORE then FOR UPDATE: 884 in this test
