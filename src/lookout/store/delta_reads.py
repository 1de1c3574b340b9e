"""What every reader of the SQL rollups reads: the rollup rows merged with pending deltas.

On PostgreSQL and MySQL/MariaDB, batches whose writer was not the compactor left their
rollups in ``lookout_rollup_deltas`` (see :mod:`lookout.store.compaction`). A reader selects
from :func:`rollup_source` instead of a rollup table: a subquery with the table's name and
columns, in its order, that adds each key's pending deltas to its row (rows of keys without
one pass as they are, found by an anti-join), in the one statement's snapshot, so it answers
exactly what the committed batches hold, whether the compactor merged them yet or not, with
one row per key as the table has. Counts and sums add, min and max combine, and the
sketches' flat JSON arrays are concatenated (``[a,b] + [c,d]`` is
``[a,b,c,d]``), which :meth:`LatencySketch.from_json` reads as their merge.

The database pushes a reader's conditions on the key (name, origin, bucket range) into both
halves of the union, so a read costs the rows it asks for, plus the few deltas pending. On
SQLite, which never has deltas, the table itself is read, as before.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Table,
    cast,
    exists,
    func,
    literal,
    select,
    union_all,
)

from lookout.store.compaction import PLAIN
from lookout.store.engine import SqlStore
from lookout.store.schema import ORIGIN_ROLLUP_TABLES, ROLLUP_TABLES, rollup_deltas

_ADDED = ("count", "errors", "total_ns")


def rollup_source(store: SqlStore, table: Table) -> FromClause:
    """``table`` (a plain or origin rollup table) with its pending deltas merged in."""
    if store.backend not in ("postgresql", "mysql", "mariadb"):
        return table  # SQLite (no deltas), or a store that keeps no SQL rollups
    return _merged(store.backend, table)


@lru_cache(maxsize=16)
def _merged(dialect: str, table: Table) -> FromClause:
    """Rows of keys without a pending delta as they are (most rows: no text is touched), and
    the keys with deltas grouped: their row, if any, and their deltas merged in SQL."""
    is_origin = "origin_id" in table.c
    grains = ORIGIN_ROLLUP_TABLES if is_origin else ROLLUP_TABLES
    [grain] = [seconds for seconds, known in grains.items() if known is table]
    deltas = rollup_deltas.c
    same_key = [
        deltas.grain == grain,
        deltas.name_id == table.c.name_id,
        deltas.bucket_start == table.c.bucket_start,
        deltas.origin_id == (table.c.origin_id if is_origin else PLAIN),
    ]
    has_delta = exists().where(*same_key)
    of_table = deltas.origin_id != PLAIN if is_origin else deltas.origin_id == PLAIN
    touched = union_all(
        select(*table.columns).where(has_delta),
        select(*(deltas[column.name] for column in table.columns)).where(
            deltas.grain == grain, of_table
        ),
    ).subquery()
    columns: list[ColumnElement[Any]] = []
    for column in table.columns:
        found = touched.c[column.name]
        name = column.name
        if name in ("name_id", "bucket_start", "origin_id"):
            columns.append(found)
        elif name in _ADDED:
            columns.append(cast(func.sum(found), BigInteger).label(name))
        elif name == "sumsq_ms2":
            columns.append(func.sum(found).label(name))
        elif name == "min_ns":
            columns.append(func.min(found).label(name))
        elif name in ("max_ns", "last_ns"):
            columns.append(func.max(found).label(name))
        else:
            columns.append(_sketches(dialect, found).label(name))
    key = [touched.c.name_id, touched.c.bucket_start]
    if is_origin:
        key.append(touched.c.origin_id)
    grouped = select(*columns).group_by(*key)
    return union_all(select(*table.columns).where(~has_delta), grouped).subquery(table.name)


def _sketches(dialect: str, sketch: ColumnElement[Any]) -> ColumnElement[Any]:
    """The flat arrays of a key's sketches as one flat array (``[]`` when all are empty)."""
    inner = func.nullif(func.substr(sketch, 2, func.length(sketch) - 2), "")
    joined = (
        func.string_agg(inner, literal(","))
        if dialect == "postgresql"
        else func.group_concat(inner)  # MySQL/MariaDB: ',' is GROUP_CONCAT's separator
    )
    return func.coalesce(literal("[") + joined + literal("]"), literal("[]"))
