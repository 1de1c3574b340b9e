"""Bring a store's schema to the newest version, safely when several processes start at once.

Alembic runs the versioned migrations in ``lookout/store/migrations/versions``. Before it runs,
the migrating process takes a lock that every other Lookout process also takes (SQLite: the
database write lock; PostgreSQL: a transaction advisory lock; MySQL/MariaDB: ``GET_LOCK``), and
looks at the version again, so exactly one process upgrades and the others wait, then see it done.
"""

from __future__ import annotations

from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

VERSION_TABLE = "lookout_schema_version"
HEAD = "head"
_ADVISORY_LOCK_KEY = 0x4C4F4F4B  # "LOOK"
_MYSQL_LOCK_NAME = "lookout_migrations"
_MYSQL_LOCK_TIMEOUT_S = 120


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "lookout.store:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Upgrade the schema to ``revision`` (the newest by default); a no-op when already there."""
    target = head_revision() if revision == HEAD else revision
    with engine.connect() as probe:
        if current_revision(probe) == target:
            return
    dialect = engine.dialect.name
    with engine.begin() as connection:
        if dialect == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        elif dialect in ("mysql", "mariadb"):
            got = connection.execute(
                text("SELECT GET_LOCK(:name, :timeout)"),
                {"name": _MYSQL_LOCK_NAME, "timeout": _MYSQL_LOCK_TIMEOUT_S},
            ).scalar()
            if got != 1:
                raise TimeoutError("another process held the Lookout migration lock for 120 s")
        try:
            if current_revision(connection) != target:
                command.upgrade(_config(connection), revision)
        finally:
            if dialect in ("mysql", "mariadb"):
                connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_LOCK_NAME})
