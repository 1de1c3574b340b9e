"""The few statements whose SQL differs between SQLite, PostgreSQL and MySQL/MariaDB.

Each is built once per table and dialect and executed with a list of parameter rows
(``executemany``), so SQLAlchemy compiles it once and caches it. A statement carrying its rows
as literal ``VALUES`` would be compiled anew for every batch: that cost about 1.7 ms per batch,
more than writing the batch's rows.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, Executable, Table
from sqlalchemy.sql.dml import Insert


def insert_ignoring_conflicts(connection: Connection, table: Table) -> Insert:
    """``INSERT`` that skips rows whose unique key already exists (another writer was first)."""
    return _insert_ignoring_conflicts(connection.dialect.name, table)


@lru_cache(maxsize=64)
def _insert_ignoring_conflicts(dialect: str, table: Table) -> Insert:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return table.insert().prefix_with("IGNORE")


def insert_locking(connection: Connection, table: Table, column: str) -> Insert:
    """``INSERT`` that leaves an existing row as it is but locks it exclusively (MySQL's
    ``ON DUPLICATE KEY UPDATE column = column``): a row that exists or is made is then held
    for writing from the first statement on. ``INSERT IGNORE`` takes only a shared lock on an
    existing row, and two transactions each holding one and both wanting the exclusive lock
    is a deadlock (790 of them with 8 writers merging into one name).
    Elsewhere, :func:`insert_ignoring_conflicts` (PostgreSQL locks with ``FOR UPDATE``)."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return insert_ignoring_conflicts(connection, table)
    return _insert_locking_mysql(table, column)


@lru_cache(maxsize=64)
def _insert_locking_mysql(table: Table, column: str) -> Insert:
    from sqlalchemy.dialects.mysql import insert as mysql_insert

    return mysql_insert(table).on_duplicate_key_update({column: table.c[column]})


def upsert_replacing(connection: Connection, table: Table, key: tuple[str, ...]) -> Executable:
    """``INSERT`` whose rows replace the other columns of rows with the same ``key``.

    Execute it with a list of complete rows (dicts of every column).
    """
    return _upsert_replacing(connection.dialect.name, table, key)


@lru_cache(maxsize=64)
def _upsert_replacing(dialect: str, table: Table, key: tuple[str, ...]) -> Executable:
    updated = [column.name for column in table.columns if column.name not in key]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg_statement = pg_insert(table)
        return pg_statement.on_conflict_do_update(
            index_elements=list(key), set_={name: pg_statement.excluded[name] for name in updated}
        )
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        sqlite_statement = sqlite_insert(table)
        return sqlite_statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: sqlite_statement.excluded[name] for name in updated},
        )
    from sqlalchemy.dialects.mysql import insert as mysql_insert

    mysql_statement = mysql_insert(table)
    return mysql_statement.on_duplicate_key_update(
        {name: mysql_statement.inserted[name] for name in updated}
    )
