"""Connections to the SQL store, set up per database so that many writers get along.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE`` so that two processes never both read and then both try to upgrade to a
write lock (the classic source of "database is locked"). Reads use a second engine whose
transactions stay deferred, so the dashboard never blocks writers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import Pool, StaticPool

from lookout.store import migrate

DEFAULT_STORE_URL = "sqlite:///lookout.db"
SQLITE_BUSY_TIMEOUT_S = 60

#: URL schemes people write, and the driver Lookout installs for them.
_DEFAULT_DRIVERS = {
    "postgresql": ("postgresql+psycopg", "postgres"),
    "postgres": ("postgresql+psycopg", "postgres"),
    "mysql": ("mysql+pymysql", "mysql"),
    "mariadb": ("mariadb+pymysql", "mysql"),
}
_DRIVER_EXTRAS = {
    "psycopg": "postgres",
    "psycopg2": "postgres",
    "pymysql": "mysql",
    "MySQLdb": "mysql",
    "mysqldb": "mysql",
}


#: Pools inherited through fork(), kept so that their connections are never closed here.
_INHERITED_POOLS: list[Pool] = []


class StoreConfigError(ValueError):
    """The store URL is malformed or its database driver is not installed."""


def normalize_url(url: str | URL) -> URL:
    """Parse a store URL and pick Lookout's driver when the URL names none."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StoreConfigError(
            f"store: {str(url)!r} is not a database URL (expected e.g. {DEFAULT_STORE_URL!r} or "
            "'postgresql://user@host/db')"
        ) from exc
    if "+" not in parsed.drivername and parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername][0])
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if parsed.get_backend_name().startswith("clickhouse"):
        raise StoreConfigError(
            "store: this needs a SQL store (SQLite, PostgreSQL, MySQL); what a clickhouse:// "
            "store serves so far is listed in docs/clickhouse.md"
        )
    if parsed.get_backend_name() not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise StoreConfigError(
            f"store: {parsed.get_backend_name()!r} is not supported; use SQLite, PostgreSQL or "
            "MySQL/MariaDB"
        )
    return parsed


def _is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _create(url: URL, *, immediate_writes: bool) -> Engine:
    options: dict[str, Any] = {}
    backend = url.get_backend_name()
    if backend == "sqlite":
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        if _is_memory(url):
            options["poolclass"] = StaticPool
        else:
            Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # The connection used last, again: each SQLite connection has its own page cache
            # and prepared statements, and empties its cache when it sees that another one has
            # written. First in, first out (the pool's default) took turns between the writer's
            # connection and one opened at start-up, each batch on a cold connection; a
            # 1,000-row INSERT alone takes 3.7 ms to prepare.
            options["pool_use_lifo"] = True
    else:
        options["pool_pre_ping"] = True
        options["pool_recycle"] = 1800
    try:
        engine = create_engine(url, **options)
    except ModuleNotFoundError as exc:
        extra = _DRIVER_EXTRAS.get(exc.name or "", backend)
        raise StoreConfigError(
            f"store: the {backend} driver ({exc.name}) is not installed; "
            f"pip install 'lookout[{extra}]'"
        ) from exc
    if backend == "sqlite":
        _configure_sqlite(engine, immediate_writes=immediate_writes)
    elif backend in ("mysql", "mariadb"):
        _configure_mysql(engine)
    return engine


def _configure_mysql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Readers join a key's pending sketches with GROUP_CONCAT (store/delta_reads.py),
        # which MySQL cuts at 1,024 bytes unless told otherwise (MariaDB at 1 MB): a few
        # sketches' worth.
        cursor = dbapi_connection.cursor()
        cursor.execute("SET SESSION group_concat_max_len = 1073741824")
        cursor.close()


def _bind_none_cheaply() -> None:
    """Give the sqlite3 module an adapter for None, unless the application has one.

    The module binds int, float and str directly, but looks every other value up as a
    possible adapter, and for None that lookup fails through two raised and cleared
    AttributeErrors: 0.25 µs per NULL. An event row has five NULLs on average, so this was
    1.3 µs of the 4 µs its insert took (measured here); the adapter returns None, which binds
    the same NULL as before. Process-wide, and harmless to any other user of sqlite3.
    """
    import sqlite3

    key = (type(None), sqlite3.PrepareProtocol)
    if key not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _none_to_null)


#: ``{}.get(None)`` is None: a built-in that answers without a Python frame, five times a row.
_NOTHING: dict[object, None] = {}
_none_to_null = _NOTHING.get


def _configure_sqlite(engine: Engine, *, immediate_writes: bool) -> None:
    _bind_none_cheaply()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL takes a lock that another process opening
        # the same file may hold (gunicorn workers starting together), and must wait for it.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate_writes else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


class SqlStore:
    """A SQLite, PostgreSQL or MySQL/MariaDB database holding Lookout's events and rollups.

    Args:
        url: a SQLAlchemy URL; ``postgresql://`` uses psycopg 3 and ``mysql://`` PyMySQL
            unless the URL names another driver.
        migrate: bring the schema to the newest version on open (the default).
    """

    def __init__(self, url: str | URL = DEFAULT_STORE_URL, *, migrate_schema: bool = True) -> None:
        self.url = normalize_url(url)
        self.backend = self.url.get_backend_name()
        self.engine = _create(self.url, immediate_writes=True)
        if self.backend == "sqlite" and not _is_memory(self.url):
            self.read_engine = _create(self.url, immediate_writes=False)
        else:
            self.read_engine = self.engine
        if migrate_schema:
            migrate.upgrade(self.engine)

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for logs and the CLI."""
        return self.url.render_as_string(hide_password=True)

    def after_fork(self) -> None:
        """Start a fresh pool; keep the inherited one, unused and never closed.

        The parent still uses those connections. For SQLite there is more: were the child to
        close one (as garbage collection of a dropped pool would), POSIX would release every
        lock the child holds on the database file, letting two processes write at once. So
        the inherited pools are kept referenced for the life of the process (a few file
        descriptors per fork).
        """
        for engine in {
            id(self.engine): self.engine,
            id(self.read_engine): self.read_engine,
        }.values():
            _INHERITED_POOLS.append(engine.pool)
            engine.dispose(close=False)

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def __repr__(self) -> str:
        return f"SqlStore({self.safe_url!r})"
