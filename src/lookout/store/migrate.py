"""Bring a store's schema to the newest version, safely when several processes start at once.

Alembic runs the versioned migrations in ``lookout/store/migrations/versions``. Before it runs,
the migrating process takes a lock that every other Lookout process also takes (SQLite: the
database write lock; PostgreSQL: a transaction advisory lock; MySQL/MariaDB: ``GET_LOCK``), and
looks at the version again, so exactly one process upgrades and the others wait, then see it done.

Alembic (with Mako and Pygments) is imported only when a store is behind: it was almost half of
``import lookout`` and left some 21,000 objects for every full garbage collection of the host
application. A store already at :data:`HEAD_REVISION` is recognised with one plain query (a test
checks the constant against Alembic's own view of the scripts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "lookout_schema_version"
HEAD = "head"
#: The newest migration script's revision: the schema this code writes. Raise it with every new
#: script in ``migrations/versions`` (tests/store/test_migrations.py fails until it matches).
HEAD_REVISION = "0006"
_ADVISORY_LOCK_KEY = 0x4C4F4F4B  # "LOOK"
_MYSQL_LOCK_NAME = "lookout_migrations"
_MYSQL_LOCK_TIMEOUT_S = 120


def _config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "lookout.store:migrations")
    config.attributes["connection"] = connection
    return config


def current_revision(connection: Connection) -> str | None:
    """The store's revision, or None when it has no schema yet (what Alembic would say)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    revisions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    found = list(revisions)
    if len(found) > 1:
        raise RuntimeError(f"{VERSION_TABLE} holds several revisions: {found}")
    return found[0] if found else None


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Upgrade the schema to ``revision`` (the newest by default); a no-op when already there."""
    target = HEAD_REVISION if revision == HEAD else revision
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
                from alembic import command

                command.upgrade(_config(connection), revision)
        finally:
            if dialect in ("mysql", "mariadb"):
                connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_LOCK_NAME})
