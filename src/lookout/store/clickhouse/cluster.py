"""A ClickHouse store over a cluster: ``clickhouse://.../db?cluster=NAME``.

One server holds what one disk and one CPU can; a fleet's events go over several *shards*
(each a share of the rows) and, for safety, several *replicas* of each shard. ClickHouse does
that with two kinds of tables, and this module derives both from the single-server schema
(:func:`lookout.store.clickhouse.schema.statements`), generically, so every table the schema
gains is clustered too:

- **local tables** in the database ``<db>_local`` on every server: the very same DDL as on one
  server (MergeTree and AggregatingMergeTree tables, and the materialized views that fill the
  rollups from each shard's own events). With replicas, every ``*MergeTree`` engine becomes
  its ``Replicated*MergeTree`` over ZooKeeper, at ``/clickhouse/tables/{shard}/<db>_local/<table>``
  with the server's ``{shard}`` and ``{replica}`` macros;
- **Distributed tables** of the same names in ``<db>``, over the local ones on every shard. The
  store reads and writes only these, so every query the single-server store sends runs on the
  cluster unchanged: an INSERT is split across shards by a sharding key (events by
  ``cityHash64(host, start_ns)``: deterministic, so a retried batch splits the same way and
  replicated tables can drop the repeat; even over hosts and time), each shard's materialized
  views roll up its own rows, and a read's ``-Merge`` combinators finish the merge of the
  partial states from every shard on the server that was asked.

DDL: with ZooKeeper configured on the server, one ``ON CLUSTER`` statement each (distributed
DDL on 18.16 goes through ZooKeeper's queue); without it, each statement on every server in
turn through a connection of its own, the servers read from ``system.clusters``. Replicated
tables need ZooKeeper (or ClickHouse Keeper on newer servers) in any case.

Opening a store whose tables are all there asks only the server in the URL (an application
host may reach no other). What is per server, not per cluster, is done on each server
through a connection of its own: making the schema without ZooKeeper, dropping partitions
(:func:`prune`) and bytes on disk (:func:`sizes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import quote

from lookout.store.clickhouse import schema
from lookout.store.clickhouse.url import ClickHouseUrl
from lookout.store.engine import StoreConfigError

LOCAL_SUFFIX = "_local"
#: How rows are spread over shards, per table; any other table's inserts go to a random shard.
SHARDING_KEYS = {schema.EVENTS: "cityHash64(host, start_ns)"}
DEFAULT_SHARDING_KEY = "rand()"
#: Where replicated tables keep their state in ZooKeeper (the macros are the server's).
REPLICA_PATH = "/clickhouse/tables/{{shard}}/{database}/{table}"

_CREATE_TABLE = re.compile(r"^\s*CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)\s")
_CREATED = re.compile(
    r"^(\s*(?:CREATE (?:DATABASE|TABLE|MATERIALIZED VIEW) IF NOT EXISTS|ALTER TABLE) [\w.]+)"
)
_MERGE_TREE = re.compile(r"ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?")


class ClickHouseStore(Protocol):
    """What the cluster's functions use of :class:`lookout.store.clickhouse.store.
    ClickHouseStore` (which calls them when it opens a cluster: importing it here would make
    the two modules import each other)."""

    target: ClickHouseUrl
    database: str

    def execute(self, sql: str, params: Any = None, **options: Any) -> Any: ...

    def table(self, name: str) -> str: ...

    def close(self) -> None: ...


StoreT = TypeVar("StoreT", bound=ClickHouseStore)


@dataclass(frozen=True, slots=True)
class Node:
    """One server of the cluster, as ``system.clusters`` lists it."""

    shard: int
    replica: int
    host: str
    port: int


def local_database(database: str) -> str:
    return f"{database}{LOCAL_SUFFIX}"


def replicated(statement: str) -> str:
    """The statement with its ``*MergeTree`` engine replicated (others are left as they are:
    a TinyLog table is per server)."""
    created = _CREATE_TABLE.match(statement)
    if created is None:
        return statement
    database, table = created.groups()

    def engine(match: re.Match[str]) -> str:
        name, arguments = match.group(1), match.group(2)
        if name.startswith("Replicated"):
            return match.group(0)
        path = REPLICA_PATH.format(database=database, table=table)
        extra = f", {arguments}" if arguments and arguments.strip() else ""
        return f"ENGINE = Replicated{name}('{path}', '{{replica}}'{extra})"

    return _MERGE_TREE.sub(engine, statement, count=1)


def local_statements(database: str, *, replicate: bool) -> list[str]:
    """The single-server schema in ``<db>_local``, replicated or not."""
    found = schema.statements(local_database(database))
    return [replicated(statement) for statement in found] if replicate else found


def distributed_statements(database: str, cluster: str) -> list[str]:
    """A Distributed table in ``database`` over every table of the local schema."""
    local = local_database(database)
    found = [f"CREATE DATABASE IF NOT EXISTS {database}"]
    for statement in schema.statements(local):
        created = _CREATE_TABLE.match(statement)
        if created is None or created.group(1) != local:
            continue
        table = created.group(2)
        key = SHARDING_KEYS.get(table, DEFAULT_SHARDING_KEY)
        found.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{table} AS {local}.{table} "
            f"ENGINE = Distributed('{cluster}', '{local}', '{table}', {key})"
        )
    return found


def on_cluster(statement: str, cluster: str) -> str:
    """The CREATE or ALTER statement run by every server of the cluster (distributed DDL)."""
    return _CREATED.sub(lambda match: f"{match.group(1)} ON CLUSTER {cluster}", statement, count=1)


def nodes(store: ClickHouseStore) -> list[Node]:
    """Every server of the store's cluster, by shard then replica."""
    cluster = _cluster(store)
    rows = store.execute(
        "SELECT shard_num, replica_num, host_address, port FROM system.clusters "
        "WHERE cluster = %(cluster)s ORDER BY shard_num, replica_num",
        {"cluster": cluster},
    )
    if not rows:
        raise StoreConfigError(
            f"store: the server at {store.target.host}:{store.target.port} has no cluster "
            f"{cluster!r} in its remote_servers"
        )
    return [Node(int(s), int(r), str(h), int(p)) for s, r, h, p in rows]


def has_zookeeper(store: ClickHouseStore) -> bool:
    """Whether the server has ZooKeeper configured (distributed DDL, replicated tables)."""
    from clickhouse_driver.errors import ServerException

    try:
        store.execute("SELECT count() FROM system.zookeeper WHERE path = '/'")
    except ServerException:
        return False
    return True


def replicating(store: ClickHouseStore, topology: list[Node]) -> bool:
    """Replicated tables: as the URL says (``replicated=``), else when a shard has replicas."""
    chosen = store.target.replicated
    return any(node.replica > 1 for node in topology) if chosen is None else chosen


def create_schema(store: ClickHouseStore) -> None:
    """Local and Distributed tables on every server, unless the server asked has them all.

    Opening an existing cluster store asks only the server in the URL (an application host
    may reach no other); making the schema without ZooKeeper, or upgrading it, connects to
    every server."""
    cluster = _cluster(store)
    topology = nodes(store)
    replicate = replicating(store, topology)
    statements = local_statements(store.database, replicate=replicate)
    statements += distributed_statements(store.database, cluster)
    local = local_database(store.database)
    if _obsolete(store, store):
        _drop_obsolete(store, topology)
    if _upgrades(store, local) + _upgrades(store, store.database):
        _upgrade(store, topology, replicate)
    elif _made(store, statements):
        return
    if has_zookeeper(store):
        for statement in statements:
            store.execute(on_cluster(statement, cluster))
    elif replicate:
        raise StoreConfigError(
            f"store: replicated tables on cluster {cluster!r} need ZooKeeper (or ClickHouse "
            "Keeper) in the servers' config; none is configured"
        )
    else:
        for node in topology:
            with node_store(store, node) as server:
                for statement in statements:
                    server.execute(statement)
    # Distributed: one row per version, each on some shard
    schema.record_version(store.execute, store.table("lookout_schema_version"))


def _upgrade(store: ClickHouseStore, topology: list[Node], replicate: bool) -> None:
    """The columns a store made before lacks, added on each server through its own
    connection: a replicated local table on one replica of each shard (the ALTER replicates),
    every Distributed table (18.16 refuses ``ALTER ... ON CLUSTER`` of a table that is not
    replicated over shards that are, and hung on that of the replicated ones here). Every
    local table first: a Distributed table with a new column sends it to every shard."""
    first = {node.shard: node.replica for node in reversed(topology)}
    local = local_database(store.database)
    for database in (local, store.database):
        for node in topology:
            if database == local and replicate and first[node.shard] != node.replica:
                continue  # the shard's first replica's ALTER reaches this one
            with node_store(store, node) as server:
                for statement in _upgrades(server, database):
                    schema.add_column(server.execute, statement)


def _obsolete(store: ClickHouseStore, server: ClickHouseStore) -> list[str]:
    """What drops schema 1's unread tables (:data:`~lookout.store.clickhouse.schema.
    OBSOLETE_TABLES`) on ``server``: its local ones, and the Distributed ones over them."""
    found = []
    for database in (local_database(store.database), store.database):
        tables = {
            str(name)
            for (name,) in server.execute(
                "SELECT name FROM system.tables WHERE database = %(db)s", {"db": database}
            )
        }
        found += schema.obsolete_statements(database, tables)
    return found


def _drop_obsolete(store: ClickHouseStore, topology: list[Node]) -> None:
    """Schema 1's unread tables dropped on every server through its own connection (each
    replica drops its own copy of a replicated table)."""
    for node in topology:
        with node_store(store, node) as server:
            for statement in _obsolete(store, server):
                server.execute(statement)


def _upgrades(server: ClickHouseStore, database: str) -> list[str]:
    """What the server's events table in ``database`` (local or Distributed) lacks
    (:func:`lookout.store.clickhouse.schema.upgrade_statements`: a store made before)."""
    columns = {
        str(column)
        for (column,) in server.execute(
            "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s",
            {"db": database, "table": schema.EVENTS},
        )
    }
    return schema.upgrade_statements(database, columns)


def _made(store: ClickHouseStore, statements: list[str]) -> bool:
    """Whether the server asked has every table and view the statements make."""
    wanted = schema.made_by(statements)
    found = store.execute(
        "SELECT database, name FROM system.tables WHERE database IN %(databases)s",
        {"databases": (store.database, local_database(store.database))},
    )
    return wanted <= {(str(database), str(name)) for database, name in found}


@contextmanager
def node_store(store: StoreT, node: Node) -> Iterator[StoreT]:
    """A store on one server's local database (no schema made, the same settings store)."""
    target = store.target
    url = (
        f"clickhouse://{quote(target.user, safe='')}:{quote(target.password, safe='')}@"
        f"{node.host}:{node.port}/{local_database(store.database)}"
        f"?settings={quote(target.settings_url, safe='')}"
    )
    server: StoreT = cast(Any, type(store))(url, migrate_schema=False)
    try:
        yield server
    finally:
        server.close()


def shard_leaders(store: ClickHouseStore) -> list[Node]:
    """One server per shard when the tables are replicated (a partition dropped on one
    replica is dropped on all), else every server."""
    topology = nodes(store)
    if not replicating(store, topology):
        return topology
    return [node for node in topology if node.replica == min(n.replica for n in topology)]


def parts(store: ClickHouseStore) -> tuple[str, str]:
    """Where the parts of the local tables are listed through the server asked (the
    ``cluster`` table function: one replica of every shard), and their database."""
    return f"cluster('{_cluster(store)}', system, parts)", local_database(store.database)


def on_every_shard(store: ClickHouseStore, table: str) -> str:
    """A local table as an ``ALTER TABLE`` run on every server names it (distributed DDL)."""
    return f"{local_database(store.database)}.{table} ON CLUSTER {_cluster(store)}"


def sizes(store: ClickHouseStore) -> dict[str, tuple[int, int]]:
    """(rows, bytes on disk) of each local table, added up over one replica of every shard
    (the cluster's data once, whatever the number of replicas), through the server asked."""
    source, database = parts(store)
    return {
        str(table): (int(count), int(size))
        for table, count, size in store.execute(
            f"SELECT table, sum(rows), sum(bytes_on_disk) FROM {source} "
            "WHERE database = %(db)s AND active GROUP BY table",
            {"db": database},
        )
    }


def _cluster(store: ClickHouseStore) -> str:
    cluster = store.target.cluster
    if cluster is None:
        raise StoreConfigError("store: not a cluster URL (no cluster= option)")
    return cluster
