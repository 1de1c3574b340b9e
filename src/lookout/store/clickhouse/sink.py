"""The store's sink when the store is ClickHouse: the Recorder's batches, retries, spool and
counters exactly as for the SQL store (this is a :class:`~lookout.sinks.sql.SqlSink`), with the
batch written by :class:`.writer.ClickHouseWriter` (retention: lookout.store.retention.prune
drops partitions for a ClickHouse store).

A batch the server did not confirm (the connection dropped mid-insert) is retried whole, and
may then be stored twice if the server had committed it: MergeTree tables that are not
Replicated do not deduplicate inserts on 18.16 (docs/clickhouse.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.clickhouse.url import parse
from lookout.store.clickhouse.writer import ClickHouseWriter


class ClickHouseSink(SqlSink):
    """Writes each batch into a ClickHouse store with one INSERT (see :class:`SqlSink` for the
    arguments; ``store`` is a ``clickhouse://`` URL or a :class:`ClickHouseStore`)."""

    name = "clickhouse"
    #: Batches of up to this many events whatever ``batch_size`` says (still cut by
    #: ``batch_interval``): ClickHouse makes one part per insert and prefers few, large ones.
    min_batch_size = 20_000

    def __init__(self, store: ClickHouseStore | str, **options: Any) -> None:
        super().__init__(store, **options)
        self._clickhouse_writer: ClickHouseWriter | None = None

    @property
    def store(self) -> ClickHouseStore:
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    self._store = ClickHouseStore(self._url)
        assert isinstance(self._store, ClickHouseStore)
        return self._store

    @property
    def url(self) -> str:
        return parse(self._url).safe if self._store is None else self._store.safe_url

    def write(self, batch: Sequence[Event]) -> None:
        if self._clickhouse_writer is None:
            self._clickhouse_writer = ClickHouseWriter(self.store, hostname=self.hostname)
        self._clickhouse_writer.write(batch)
        self._prune_when_due()

    def check(self) -> str:
        store = self.store
        version = store.server_version()
        store.execute(f"SELECT count() FROM {store.table('lookout_events')} WHERE 0")
        return (
            f"{store.safe_url}: ClickHouse {version}, schema up to date, writable; "
            f"settings in {store.settings_url}"
        )
