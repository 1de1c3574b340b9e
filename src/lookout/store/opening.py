"""Opening the store a URL names: a SQL store, or a ClickHouse store (``clickhouse://``)."""

from __future__ import annotations

from lookout.store.clickhouse.url import is_clickhouse_url
from lookout.store.engine import SqlStore


def open_store(url: str, *, migrate_schema: bool = True) -> SqlStore:
    """The store at ``url``; a ClickHouse store is also a SQL store (of its settings)."""
    if is_clickhouse_url(url):
        from lookout.store.clickhouse.store import ClickHouseStore

        return ClickHouseStore(url, migrate_schema=migrate_schema)
    return SqlStore(url, migrate_schema=migrate_schema)
