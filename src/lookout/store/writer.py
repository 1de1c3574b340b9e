"""Writing batches of events into the store: raw rows plus rollups, in one transaction.

Names and sources (host, pid, version) are stored once in their own tables and referred to by
id. Their ids are resolved before the batch transaction, in a short transaction of their own,
and cached only once committed, so a failed batch can never leave the cache pointing at ids
that were rolled back.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Table, select, tuple_

from lookout.events import ERROR, HOSTNAME, Event
from lookout.jsontext import to_json
from lookout.store import compaction, error_groups, origin_rollups, rollups
from lookout.store.dialects import insert_ignoring_conflicts
from lookout.store.schema import EVENT_COLUMNS, ROLLUP_TABLES, events, names, sources

#: (kind, name) and (host, pid, app version): what the store keeps once and refers to by id.
NameKey = tuple[str, str]
SourceKey = tuple[str, int, str]


class BatchWriter:
    """Writes batches into one store, remembering the ids of names and sources it has seen."""

    def __init__(self, engine: Engine, *, hostname: str | None = None) -> None:
        self.engine = engine
        #: This machine's events are stored under ``hostname`` (the ``hostname`` setting),
        #: renamed once per source when it is registered: nothing per event.
        self._stored_host = {} if hostname in (None, HOSTNAME) else {HOSTNAME: hostname}
        self._name_ids: dict[NameKey, int] = {}
        self._source_ids: dict[SourceKey, int] = {}
        #: What stands for NULL in the rows of text and integer columns (see _NULLABLE_SQLITE)
        nulls: tuple[Any, Any] = (0, "") if engine.dialect.name == "sqlite" else (None, None)
        self._null_text, self._null_int = nulls
        self._mysql = engine.dialect.name in ("mysql", "mariadb")
        #: deadlocks the server reported, each retried here (never surfacing as a failure)
        self.deadlocks = 0
        #: when this writer merges its rollups and when it appends deltas, and how often it did
        self.compaction = compaction.Turns()
        self._origins = origin_rollups.OriginRollups(engine, self._source_ids, self._stored_host)
        self._groups = error_groups.ErrorGroups(
            engine, self._name_ids, self._source_ids, self._origins.origin_of
        )

    def write(self, batch: Sequence[Event]) -> None:
        """Store a batch of Events, with their rollups, in one transaction."""
        try:
            rows = self._event_rows(batch)
        except KeyError:  # a name or source not stored yet (only the first time it is seen)
            self._register_keys(batch)
            rows = self._event_rows(batch)
        by_origin = self._origins.deltas(rows)  # may register origins: before the transaction
        for _attempt in range(3):
            # may register error groups (and sets the error rows' group): before it, too
            groups = self._groups.prepare(rows)
            try:
                self._write_rows(rows, by_origin, groups)
            except error_groups.GroupGone:  # retention deleted a cached group: register again
                self._groups.forget()
                continue
            if groups is not None:
                self._groups.committed(groups)
            return
        raise RuntimeError("error groups kept vanishing while a batch was written")

    def _write_rows(
        self,
        rows: list[tuple[Any, ...]],
        by_origin: origin_rollups.OriginDeltas,
        groups: error_groups.GroupBatch | None,
    ) -> None:
        if self.engine.dialect.name == "sqlite":
            self._write_sqlite(rows, by_origin, groups)
            return
        plain = _rollup_deltas(rows)
        attempt = 0
        while True:
            try:
                with self.engine.connect() as connection:
                    if self._mysql:
                        # no gap locks: writers inserting new rollup keys side by side do not
                        # block (or deadlock) each other
                        connection.execution_options(isolation_level="READ COMMITTED")
                    self._transaction(connection, rows, plain, by_origin, groups)
                return
            except Exception as exc:
                if not is_deadlock(exc):
                    raise
            # The server chose this transaction as a deadlock's victim and rolled it back: the
            # batch is whole again and can be written again, as often as that happens (a
            # deadlock says nothing about the data or the server's health).
            attempt += 1
            self.deadlocks += 1
            time.sleep(random.uniform(0.0, min(0.2, 0.005 * attempt)))

    def _transaction(
        self,
        connection: Connection,
        rows: list[tuple[Any, ...]],
        plain: compaction.PlainDeltas,
        by_origin: origin_rollups.OriginDeltas,
        groups: error_groups.GroupBatch | None,
    ) -> None:
        """The batch's transaction (PostgreSQL, MySQL/MariaDB): the events, then its rollups
        merged into the rollup rows when this writer gets the compactor lock (with every
        delta pending), else appended as deltas (see :mod:`lookout.store.compaction`)."""
        compactor = False
        try:
            with connection.begin():
                _insert_events(connection, rows)
                compactor = self.compaction.write(connection, plain, by_origin)
                error_groups.merge(connection, groups)
        finally:
            if compactor and self._mysql:
                compaction.unlock(connection)

    def _write_sqlite(
        self,
        rows: list[tuple[Any, ...]],
        by_origin: origin_rollups.OriginDeltas,
        groups: error_groups.GroupBatch | None,
    ) -> None:
        """The batch's transaction on the sqlite3 connection itself, with the same statements.

        Why: through SQLAlchemy, each of a batch's statements cost its events, parameter
        processing and result objects: 0.35-0.4 ms more a batch whatever its size, measured
        here (a 10-row batch took 0.56-0.61 ms, now 0.21). Batches are cut by time, so at 10
        requests a second that was 35-40 µs a request, many times the rows' own cost. Other
        databases keep SQLAlchemy, whose overhead is small beside their network round trips.
        """
        dialect = self.engine.dialect
        quote = dialect.identifier_preparer.quote
        connection = self.engine.raw_connection()  # from the pool, as engine.begin() takes it
        driver: Any = connection.driver_connection
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")  # the write lock first: no deadlock on upgrade
            try:
                _insert_sqlite(cursor, dialect, rows)
                for table, deltas in _rollup_deltas(rows):
                    rollups.merge_into_sqlite(cursor, table, deltas, quote)
                origin_rollups.merge_sqlite(cursor, by_origin, quote)
                error_groups.merge_sqlite(cursor, groups)
                cursor.execute("COMMIT")
            except BaseException:
                if driver.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool

    def _event_rows(self, events: Sequence[Event]) -> list[tuple[Any, ...]]:
        """The events table's rows, in the batch's order; KeyError when a name or source has
        no id yet (the caller registers them and asks again).

        Consecutive events mostly share their name, source, tags and fields objects (a
        route's requests: see flask.request_events), so each is first compared by identity
        with the previous event's, which costs no key tuple or hash; JSON is made once per
        object a batch (the batch holds the objects, so their ids stay unique)."""
        name_ids, source_ids = self._name_ids, self._source_ids
        tags_json: dict[int, str | None] = {}
        fields_json: dict[int, str | None] = {}
        null_text, null_int = self._null_text, self._null_int
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        last_kind: Any = None
        last_name: Any = None
        last_name_id = 0
        last_host: Any = None
        last_pid = -1
        last_version: Any = None
        last_source_id = 0
        last_tags: Any = None
        last_tags_text: str | None = None
        last_fields: Any = None
        last_fields_text: str | None = None
        for event in events:
            (
                kind,
                name,
                start_ns,
                duration_ns,
                outcome,
                status,
                host,
                pid,
                app_version,
                rid,
                group,
                ip,
                tags,
                fields,
                error_type,
                error_message,
                traceback,
            ) = event
            if name is not last_name or kind is not last_kind:
                last_name_id = name_ids[(kind, name)]
                last_name, last_kind = name, kind
            if pid != last_pid or host is not last_host or app_version is not last_version:
                last_source_id = source_ids[(host, pid, app_version or "")]
                last_pid, last_host, last_version = pid, host, app_version
            if tags is not last_tags:
                last_tags_text = tags_json.get(id(tags), "")
                if last_tags_text == "":
                    last_tags_text = tags_json[id(tags)] = to_json(tags) if tags else None
                last_tags = tags
            if fields is not last_fields:
                last_fields_text = fields_json.get(id(fields), "")
                if last_fields_text == "":
                    last_fields_text = fields_json[id(fields)] = to_json(fields) if fields else None
                last_fields = fields
            append(
                (
                    last_name_id,
                    start_ns,
                    duration_ns,
                    1 if outcome == ERROR else 0,
                    null_int if status is None else status,
                    last_source_id,
                    null_text if rid is None else rid,
                    null_text if group is None else group,
                    null_text if ip is None else ip,
                    last_tags_text,
                    last_fields_text,
                    null_text if error_type is None else error_type,
                    null_text if error_message is None else error_message,
                    null_text if traceback is None else traceback,
                    null_int,  # error group: set for errors by ErrorGroups.assign
                )
            )
        return rows

    def _register_keys(self, batch: Sequence[Event]) -> None:
        """Give every name and source of a batch an id, stored in a transaction of its own."""
        name_keys: set[NameKey] = {(event[0], event[1]) for event in batch}
        source_keys: set[SourceKey] = {(event[6], event[7], event[8] or "") for event in batch}
        self._ids(self._name_ids, names, ("kind", "name"), name_keys)
        missing = source_keys.difference(self._source_ids)
        if missing:  # stored under the host's configured name, cached under the one events carry
            rename = self._stored_host
            stored = {(rename.get(key[0], key[0]), *key[1:]): key for key in missing}
            found = self._register(sources, ("host", "pid", "app_version"), sorted(stored))
            self._source_ids.update({stored[key]: ident for key, ident in found.items()})

    def _ids(
        self, cache: dict[Any, int], table: Table, columns: tuple[str, ...], keys: set[Any]
    ) -> None:
        missing = keys.difference(cache)
        if missing:
            cache.update(self._register(table, columns, sorted(missing)))

    def _register(self, table: Table, columns: tuple[str, ...], keys: list[Any]) -> dict[Any, int]:
        """Insert the keys not yet in ``table`` and return the ids of all of them."""
        key_columns = [table.c[column] for column in columns]
        with self.engine.begin() as connection:
            connection.execute(
                insert_ignoring_conflicts(connection, table),
                [dict(zip(columns, key, strict=True)) for key in keys],
            )
            found = connection.execute(
                select(table.c.id, *key_columns).where(tuple_(*key_columns).in_(keys))
            ).all()
        return {tuple(row[1:]): row[0] for row in found}


#: MySQL/MariaDB's deadlock error; PostgreSQL's SQLSTATE for one.
MYSQL_DEADLOCK = 1213
POSTGRES_DEADLOCK = "40P01"


def is_deadlock(error: BaseException) -> bool:
    """Whether a database error says the transaction was rolled back as a deadlock's victim."""
    orig = getattr(error, "orig", None)
    if orig is None:
        return False
    args = getattr(orig, "args", ())
    if args and args[0] == MYSQL_DEADLOCK:
        return True
    return getattr(orig, "sqlstate", None) == POSTGRES_DEADLOCK


def _rollup_deltas(
    rows: list[tuple[Any, ...]],
) -> list[tuple[Table, dict[rollups.RollupKey, rollups.RollupDelta]]]:
    """Each rollup table with the batch's deltas for it (minutes, and hours made from them)."""
    minute = rollups.aggregate(rows, 60)
    return [
        (table, minute if seconds == 60 else rollups.coarsen(minute, seconds))
        for seconds, table in ROLLUP_TABLES.items()
    ]


def _insert_sqlite(cursor: Any, dialect: Dialect, rows: list[tuple[Any, ...]]) -> None:
    """SQLite's bulk insert: multi-row ``INSERT ... VALUES (...), (...)`` statements rather
    than ``executemany``, as the sqlite3 module releases the GIL around every single row's
    step, and when the host's threads are busy each of those releases can cost a whole GIL
    switch interval (5 ms) to win back; measured here, executemany fell from 137,000 to 800
    rows/s beside one busy thread, while multi-row statements kept 55,000.

    Full chunks go in one statement, the rest in statements of power-of-two sizes, so that
    SQLite's prepared statements are reused: preparing a 1,000-row INSERT costs 3.7 ms, four
    times executing it, and batches cut by time have any size. (Not all in powers of two:
    every statement releases and retakes the GIL, a turn the host's threads pay.)
    """
    largest = _sqlite_rows_per_statement()
    start = 0
    while start < len(rows):
        left = len(rows) - start
        size = largest if left >= largest else 1 << (left.bit_length() - 1)
        part = rows[start : start + size]
        cursor.execute(_multi_row_insert_sql(dialect, size), tuple(chain.from_iterable(part)))
        start += size


def _insert_events(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert, the fastest way each database offers (SQLite's: :func:`_insert_sqlite`)."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        # COPY is several times faster than INSERT for bulk rows; same transaction as the rest.
        driver_connection: Any = connection.connection.driver_connection
        with driver_connection.cursor() as cursor, cursor.copy(_copy_sql(dialect)) as copy:
            for row in rows:
                copy.write_row(row)
        return
    # PyMySQL (and most drivers) turn executemany of INSERT ... VALUES into multi-row inserts.
    connection.exec_driver_sql(_multi_row_insert_sql(dialect, 1), rows)


@lru_cache(maxsize=8)
def _column_list(dialect: Dialect) -> str:
    quote = dialect.identifier_preparer.quote
    return ", ".join(quote(column) for column in EVENT_COLUMNS)


def _copy_sql(dialect: Dialect) -> str:
    return f"COPY {events.name} ({_column_list(dialect)}) FROM STDIN"


#: SQLite: in the columns that are often NULL, NULL is bound as 0 (text columns) or '' (status)
#: and NULLIF turns it back into NULL. The sqlite3 module binds int and str directly but passes
#: every None through its adapter registry (a tuple built, a dict lookup, a call: about 1,200
#: instructions), and a request's row has four NULLs, a call's seven; NULLIF costs SQLite a
#: few hundred. Exact, because a text column's values are str (never the integer 0) and an
#: integer column's are int (never ''). Tags and fields are rarely NULL: bound as they are.
_NULLABLE_SQLITE = {
    "status": "NULLIF(?, '')",
    **dict.fromkeys(
        (
            "request_id",
            "group_key",
            "client_ip",
            "error_type",
            "error_message",
            "traceback",
        ),
        "NULLIF(?, 0)",
    ),
    "error_group_id": "NULLIF(?, '')",
}


@lru_cache(maxsize=64)
def _multi_row_insert_sql(dialect: Dialect, row_count: int) -> str:
    if dialect.name == "sqlite":
        markers = [_NULLABLE_SQLITE.get(column, "?") for column in EVENT_COLUMNS]
    else:
        markers = ["?" if dialect.paramstyle == "qmark" else "%s"] * len(EVENT_COLUMNS)
    one_row = "(" + ", ".join(markers) + ")"
    return f"INSERT INTO {events.name} ({_column_list(dialect)}) VALUES " + ", ".join(
        [one_row] * row_count
    )


@lru_cache(maxsize=1)
def _sqlite_rows_per_statement() -> int:
    """The most rows per statement within SQLite's bound-parameter limit (999 before 3.32)."""
    import sqlite3

    limit = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
    return max(1, min(1000, limit // len(EVENT_COLUMNS)))
