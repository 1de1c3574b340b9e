"""The few statements whose SQL differs between SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Executable, Table
from sqlalchemy.sql.dml import Insert


def insert_ignoring_conflicts(connection: Connection, table: Table) -> Insert:
    """``INSERT`` that skips rows whose unique key already exists (another writer was first)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return table.insert().prefix_with("IGNORE")


def upsert_replacing(
    connection: Connection, table: Table, key: tuple[str, ...], rows: list[dict[str, Any]]
) -> Executable:
    """One multi-row ``INSERT`` whose rows replace the non-key columns of existing rows."""
    dialect = connection.dialect.name
    updated = [name for name in rows[0] if name not in key]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg_statement = pg_insert(table).values(rows)
        return pg_statement.on_conflict_do_update(
            index_elements=list(key), set_={name: pg_statement.excluded[name] for name in updated}
        )
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        sqlite_statement = sqlite_insert(table).values(rows)
        return sqlite_statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: sqlite_statement.excluded[name] for name in updated},
        )
    from sqlalchemy.dialects.mysql import insert as mysql_insert

    mysql_statement = mysql_insert(table).values(rows)
    return mysql_statement.on_duplicate_key_update(
        {name: mysql_statement.inserted[name] for name in updated}
    )
