"""Rollups without row locks shared by writers: deltas appended, merged by one compactor.

On PostgreSQL and MySQL/MariaDB every batch's transaction tries the compactor lock without
waiting (``pg_try_advisory_xact_lock``; MySQL's ``GET_LOCK(name, 0)``):

- the writer that gets it is the compactor until its commit: it merges its own rollups and
  every delta committed so far into the rollup rows (the row locks taken in key order, as
  before, but only the compactor ever takes them), and deletes those deltas, all in the
  batch's transaction;
- every other writer appends its rollups to ``lookout_rollup_deltas`` (insert only: no
  conflict, no lock another writer waits for) and commits.

So writers of one hot name never queue behind each other's row locks, from the lock to the
commit's disk flush: they only ever wait for the database's own work. One writer alone is
always the compactor and writes as it did before, with no delta. A delta is merged and
deleted in one transaction, so a compactor killed half-way leaves the deltas as they were
and the rollup rows untouched: nothing is lost or counted twice. Readers merge the rollup
rows with the deltas not merged yet (:mod:`lookout.store.delta_reads`), in one statement,
so they see every committed batch exactly, at every moment.

SQLite has one writer at a time anyway (``BEGIN IMMEDIATE``): it keeps merging directly and
never writes a delta.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, select, text

from lookout.store import origin_rollups, rollups
from lookout.store.rollups import RollupDelta, RollupKey
from lookout.store.schema import (
    ORIGIN_ROLLUP_TABLES,
    ROLLUP_TABLES,
    rollup_deltas,
)

PlainDeltas = list[tuple[Table, dict[RollupKey, RollupDelta]]]

#: The key of PostgreSQL's compactor lock ("LKCP"), beside the migration lock's "LOOK".
ADVISORY_LOCK_KEY = 0x4C4B4350
MYSQL_LOCK_NAME = "lookout_rollup_compactor"
#: Most deltas one compaction merges: a writer that is the compactor merges at most this many
#: beside its batch, so its batch's latency stays bounded after a backlog.
COMPACT_CHUNK = 5000
#: How long a writer that has company appends before it tries the compactor lock again.
COMPACT_EVERY_S = 0.2
#: ``origin_id`` of a delta of the plain rollups (origin ids start at 1).
PLAIN = 0

_DELTA_COLUMNS = tuple(
    column.name for column in rollup_deltas.columns if column.name != "id"
)  # grain, origin_id, name_id, bucket_start, then the values in the rollup tables' order


class Turns:
    """One writer's turns as the compactor.

    A writer alone finds no one else's deltas when it compacts: it tries the lock with every
    batch, gets it, and merges its rollups at once, as before (the rollup rows alone are then
    exact after every batch). A writer that finds the lock held, or other writers' deltas,
    has company: it appends for :data:`COMPACT_EVERY_S` before trying again, so that the
    compactor's work (the rollup rows read and written) is done for many batches at once
    rather than for nearly every batch by whoever came first.
    """

    __slots__ = ("_due", "_own", "appended", "compactions", "merged")

    def __init__(self) -> None:
        self._due = 0.0
        self._own = 0  # deltas this writer appended since its last compaction
        #: batches appended as deltas; compactions done; deltas merged by them
        self.appended = self.compactions = self.merged = 0

    def write(
        self, connection: Connection, plain: PlainDeltas, by_origin: origin_rollups.OriginDeltas
    ) -> bool:
        """Merge or append a batch's rollups in its transaction; True when this writer took
        the compactor lock (on MySQL/MariaDB, :func:`unlock` it after the transaction)."""
        now = time.monotonic()
        if now >= self._due:
            if try_lock(connection):
                found = merge_as_compactor(connection, plain, by_origin)
                self._due = now + COMPACT_EVERY_S if found > self._own else 0.0
                self._own = 0
                self.compactions += 1
                self.merged += found
                return True
            self._due = now + COMPACT_EVERY_S
        self._own += append(connection, plain, by_origin)
        self.appended += 1
        return False


def try_lock(connection: Connection) -> bool:
    """Take the compactor lock if no one holds it, without waiting. On PostgreSQL it is the
    transaction's and ends with it; on MySQL/MariaDB it is the session's: :func:`unlock`."""
    if connection.dialect.name == "postgresql":
        query = text("SELECT pg_try_advisory_xact_lock(:key)")
        return bool(connection.execute(query, {"key": ADVISORY_LOCK_KEY}).scalar())
    query = text("SELECT GET_LOCK(:name, 0)")
    return connection.execute(query, {"name": MYSQL_LOCK_NAME}).scalar() == 1


def unlock(connection: Connection) -> None:
    """Release MySQL/MariaDB's session lock after the transaction ended (PostgreSQL's ended
    with it). A connection that broke has lost the lock already, with its session."""
    if connection.dialect.name == "postgresql":
        return
    try:
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MYSQL_LOCK_NAME})
        connection.commit()
    except Exception:
        # Never back in the pool still holding the lock (no process could compact again):
        # a connection closed ends its session, and the server releases the lock with it.
        connection.invalidate()


def append(
    connection: Connection, plain: PlainDeltas, by_origin: origin_rollups.OriginDeltas
) -> int:
    """Append a batch's rollups as deltas: one multi-row insert, in the batch's transaction;
    returns how many rows."""
    rows = _delta_rows(plain, by_origin)
    if rows:
        connection.execute(rollup_deltas.insert(), rows)
    return len(rows)


def merge_as_compactor(
    connection: Connection, plain: PlainDeltas, by_origin: origin_rollups.OriginDeltas
) -> int:
    """Holding the compactor lock: merge a batch's rollups and the pending deltas (up to
    :data:`COMPACT_CHUNK`) into the rollup rows and delete those deltas; returns how many.

    The batch's own deltas are left as they are (a transaction retried after a deadlock
    merges them again from scratch)."""
    found = connection.execute(_PENDING).all()
    plain_all = {table: _copied(deltas) for table, deltas in plain}
    origin_all = {table: _copied(deltas) for table, deltas in by_origin}
    for table in ROLLUP_TABLES.values():
        plain_all.setdefault(table, {})
    for table in ORIGIN_ROLLUP_TABLES.values():
        origin_all.setdefault(table, {})
    for row in found:
        delta = RollupDelta.from_row(row[3:])
        grain, origin_id, name_id, bucket_start = row[1:5]
        if origin_id == PLAIN:
            _add(plain_all[ROLLUP_TABLES[grain]], (name_id, bucket_start), delta)
        else:
            _add(origin_all[ORIGIN_ROLLUP_TABLES[grain]], (name_id, origin_id, bucket_start), delta)
    for table in ROLLUP_TABLES.values():  # the lock order of every writer: minute, then hour
        rollups.merge_into(connection, table, plain_all[table])
    origin_rollups.merge(connection, [(table, origin_all[table]) for table in origin_all])
    if found:
        connection.execute(_DELETE, {"ids": [row[0] for row in found]})
    return len(found)


def compact(engine: Engine) -> int:
    """Merge every pending delta into the rollup rows, waiting for the compactor lock if
    another process holds it; returns how many deltas were merged. For maintenance and
    tests: writers compact as they go. A no-op on SQLite (no deltas)."""
    if engine.dialect.name == "sqlite":
        return 0
    merged = 0
    while True:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                with connection.begin():
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                    step = merge_as_compactor(connection, [], [])
            else:
                connection.execution_options(isolation_level="READ COMMITTED")
                query = text("SELECT GET_LOCK(:name, 60)")
                got = connection.execute(query, {"name": MYSQL_LOCK_NAME}).scalar()
                connection.commit()
                if got != 1:
                    raise TimeoutError("another process held the compactor lock for 60 s")
                try:
                    with connection.begin():
                        step = merge_as_compactor(connection, [], [])
                finally:
                    unlock(connection)
        merged += step
        if step < COMPACT_CHUNK:
            return merged


def _copied(deltas: dict[Any, RollupDelta]) -> dict[Any, RollupDelta]:
    copies: dict[Any, RollupDelta] = {}
    for key, delta in deltas.items():
        copies[key] = copy = RollupDelta()
        copy.merge(delta)
    return copies


def _add(into: dict[Any, RollupDelta], key: Any, delta: RollupDelta) -> None:
    found = into.get(key)
    if found is None:
        into[key] = delta
    else:
        found.merge(delta)


def _delta_rows(plain: PlainDeltas, by_origin: origin_rollups.OriginDeltas) -> list[dict[str, Any]]:
    grain_of = {id(table): grain for grain, table in ROLLUP_TABLES.items()}
    grain_of.update({id(table): grain for grain, table in ORIGIN_ROLLUP_TABLES.items()})
    keyed: list[tuple[int, int, int, int, RollupDelta]] = []
    for table, deltas in plain:
        grain = grain_of[id(table)]
        keyed += [(grain, PLAIN, name_id, start, d) for (name_id, start), d in deltas.items()]
    for table, by_key in by_origin:
        grain = grain_of[id(table)]
        keyed += [(grain, o, name_id, start, d) for (name_id, o, start), d in by_key.items()]
    return [
        dict(zip(_DELTA_COLUMNS, (*key, *_values(delta)), strict=True)) for *key, delta in keyed
    ]


def _values(delta: RollupDelta) -> Sequence[Any]:
    return (
        delta.count,
        delta.errors,
        delta.total_ns,
        delta.sumsq_ms2,
        delta.min_ns,
        delta.max_ns,
        delta.last_ns,
        delta.sketch.to_json(),
    )


_d = rollup_deltas.c
#: The oldest pending deltas: id, grain, origin, then a row RollupDelta.from_row reads from
#: its third column on (name_id, bucket_start, the values).
_PENDING = (
    select(
        _d.id,
        _d.grain,
        _d.origin_id,
        _d.name_id,
        _d.bucket_start,
        _d.count,
        _d.errors,
        _d.total_ns,
        _d.sumsq_ms2,
        _d.min_ns,
        _d.max_ns,
        _d.last_ns,
        _d.sketch,
    )
    .order_by(_d.id)
    .limit(COMPACT_CHUNK)
)
#: Exactly the deltas read: one committed after the read (a smaller id may commit later than
#: a larger one) stays for the next compaction.
_DELETE = delete(rollup_deltas).where(_d.id.in_(bindparam("ids", expanding=True)))
