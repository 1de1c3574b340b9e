"""Small key/value settings kept in the store, shared by every process that uses it.

Used for what an operator changes at run time and every instance must see, such as the
monitoring level of an endpoint.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from lookout.store.dialects import upsert_replacing
from lookout.store.engine import SqlStore
from lookout.store.schema import settings


def read_settings(store: SqlStore, prefix: str) -> dict[str, str]:
    """Every setting whose key starts with ``prefix``, keyed by the rest of the key."""
    with store.read_engine.connect() as connection:
        rows = connection.execute(
            select(settings.c.key, settings.c.value).where(settings.c.key.startswith(prefix))
        ).all()
    return {key[len(prefix) :]: value for key, value in rows}


def write_setting(store: SqlStore, key: str, value: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            upsert_replacing(connection, settings, ("key",)),
            [{"key": key, "value": value, "updated_ns": time.time_ns()}],
        )
