"""A ClickHouse store: events and rollups in ClickHouse, settings in a SQL database beside it.

:class:`ClickHouseStore` is a :class:`~lookout.store.engine.SqlStore` for its settings store
(``settings=`` in the URL), so everything that keeps small mutable rows (monitoring levels,
dashboard users and sessions, tokens, alert state) works on it unchanged, and a
ClickHouse connection for the events. ``backend`` is ``"clickhouse"``: the read functions
(:mod:`lookout.store.queries`, :mod:`lookout.dashboard.data`) answer from ClickHouse when they
see it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from lookout.store.clickhouse import schema
from lookout.store.clickhouse.url import ClickHouseUrl, parse
from lookout.store.engine import SqlStore, StoreConfigError

CONNECT_TIMEOUT_S = 5
SEND_RECEIVE_TIMEOUT_S = 60


class ClickHouseStore(SqlStore):
    """The store at a ``clickhouse://`` URL (see :mod:`lookout.store.clickhouse.url`).

    Args:
        url: ``clickhouse://user:pass@host:9000/db``, optionally ``?settings=<SQL URL>``.
        migrate_schema: create the database, tables and views when missing (the default).
    """

    def __init__(self, url: str, *, migrate_schema: bool = True) -> None:
        try:
            self.target: ClickHouseUrl = parse(url)
        except ValueError as exc:
            raise StoreConfigError(f"store: {exc}") from None
        try:
            import clickhouse_driver  # noqa: F401 - only to say what to install
        except ModuleNotFoundError as exc:
            raise StoreConfigError(
                "store: the ClickHouse driver (clickhouse-driver) is not installed; "
                "pip install 'lookout[clickhouse]'"
            ) from exc
        super().__init__(self.target.settings_url, migrate_schema=migrate_schema)
        self.settings_backend = self.backend
        self.backend = "clickhouse"
        self.database = self.target.database
        self._local = threading.local()
        if migrate_schema:
            self.create_schema()

    @property
    def safe_url(self) -> str:
        return self.target.safe

    @property
    def settings_url(self) -> str:
        """The SQL settings store's URL, password hidden."""
        return self.url.render_as_string(hide_password=True)

    def client(self) -> Any:
        """This thread's connection (clickhouse-driver clients are not thread-safe; a forked
        child opens its own rather than share the parent's socket)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            from clickhouse_driver import Client

            target = self.target
            local.client = Client(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password,
                database="default",
                connect_timeout=CONNECT_TIMEOUT_S,
                send_receive_timeout=SEND_RECEIVE_TIMEOUT_S,
                client_name="lookout",
                # on a cluster, an INSERT returns once every shard has its rows (not queued on
                # this server): the sink's retries and counts mean what they mean on one server
                settings={"insert_distributed_sync": 1} if target.cluster else {},
            )
            local.pid = os.getpid()
        return local.client

    def execute(self, sql: str, params: Any = None, **options: Any) -> Any:
        """Run a statement on this thread's connection; its rows."""
        return self.client().execute(sql, params, **options)

    def create_schema(self) -> None:
        if self.target.cluster:
            from lookout.store.clickhouse import cluster

            cluster.create_schema(self)
            return
        existing = {
            str(name)
            for (name,) in self.execute(
                "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s",
                {"db": self.database, "table": schema.EVENTS},
            )
        }
        tables = {
            str(name)
            for (name,) in self.execute(
                "SELECT name FROM system.tables WHERE database = %(db)s", {"db": self.database}
            )
        }
        upgrades = schema.upgrade_statements(self.database, existing)
        obsolete = schema.obsolete_statements(self.database, tables)
        made = {name for _, name in schema.made_by(schema.statements(self.database))}
        if not upgrades and not obsolete and made <= tables:
            return  # made already: no DDL while other processes insert (every worker opens it)
        for statement in upgrades:
            schema.add_column(self.execute, statement)  # a store made by an earlier schema
        for statement in obsolete:
            self.execute(statement)  # a store made by schema 1
        for statement in schema.statements(self.database):
            self.execute(statement)
        schema.record_version(self.execute, f"{self.database}.lookout_schema_version")

    def table(self, name: str) -> str:
        """A table's name qualified with the store's database."""
        return f"{self.database}.{name}"

    def server_version(self) -> str:
        return str(self.execute("SELECT version()")[0][0])

    def after_fork(self) -> None:
        super().after_fork()
        self._local = threading.local()

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None and getattr(self._local, "pid", None) == os.getpid():
            client.disconnect()
        self._local = threading.local()
        super().close()

    def __repr__(self) -> str:
        return f"ClickHouseStore({self.safe_url!r})"
