"""Writing batches of events into the store: raw rows plus rollups, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from lookout.events import Event
from lookout.store import rollups
from lookout.store.schema import EVENT_COLUMNS, ROLLUP_TABLES, events

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=repr).encode


def event_row(event: Event) -> tuple[Any, ...]:
    """The row for ``events``: the Event's own order, with tags and fields as JSON text."""
    return (
        *event[:12],
        _dumps(event.tags) if event.tags else None,
        _dumps(event.fields) if event.fields else None,
        *event[14:],
    )


def write_batch(connection: Connection, batch: Sequence[Event]) -> None:
    """Insert the raw events and merge their rollups, within the caller's transaction."""
    rows = [event_row(event) for event in batch]
    _insert_events(connection, rows)
    minute = rollups.aggregate(batch, 60)
    for seconds, table in ROLLUP_TABLES.items():
        deltas = minute if seconds == 60 else rollups.coarsen(minute, seconds)
        rollups.merge_into(connection, table, deltas)


def _insert_events(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(column) for column in EVENT_COLUMNS)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        # COPY is several times faster than INSERT for bulk rows; same transaction as the rest.
        driver_connection: Any = connection.connection.driver_connection
        with driver_connection.cursor() as cursor, cursor.copy(
            f"COPY {events.name} ({columns}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    placeholders = ", ".join([marker] * len(EVENT_COLUMNS))
    connection.exec_driver_sql(
        f"INSERT INTO {events.name} ({columns}) VALUES ({placeholders})", rows
    )
