"""``clickhouse://user:pass@host:port/db?settings=URL``: what a ClickHouse store URL says.

The port is ClickHouse's native protocol port (9000 by default), which clickhouse-driver
speaks to servers of every version, the 2018 ones included. ``settings`` names the SQL database
that keeps the small mutable rows (monitoring levels, dashboard users, sessions, tokens):
ClickHouse is not made for rows that are updated in place (docs/clickhouse.md).
``cluster=NAME`` (a cluster of the server's ``remote_servers``) stores through Distributed
tables over every shard, and ``replicated=true|false`` chooses replicated tables (by default
when a shard of the cluster has replicas): :mod:`.cluster`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

SCHEMES = ("clickhouse", "clickhouse+native")
DEFAULT_PORT = 9000
#: Where settings go when the URL names no settings store: a SQLite file in the working folder.
#: One process or one host only: a fleet names a shared PostgreSQL or MySQL database.
DEFAULT_SETTINGS_URL = "sqlite:///lookout-settings.db"
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class ClickHouseUrl:
    host: str
    port: int
    user: str
    password: str
    database: str
    settings_url: str
    cluster: str | None = None
    replicated: bool | None = None

    @property
    def safe(self) -> str:
        """The URL with the password hidden, for logs, the CLI and the dashboard."""
        credentials = f"{self.user}:***@" if self.password else f"{self.user}@"
        cluster = f"?cluster={self.cluster}" if self.cluster else ""
        return f"clickhouse://{credentials}{self.host}:{self.port}/{self.database}{cluster}"


def is_clickhouse_url(url: object) -> bool:
    return isinstance(url, str) and url.split("://", 1)[0].lower() in SCHEMES


def parse(url: str) -> ClickHouseUrl:
    """Parse a ClickHouse store URL; ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError(f"{url!r} is not a clickhouse:// URL")
    database = parts.path.lstrip("/") or "default"
    if not _DATABASE_NAME.match(database):
        raise ValueError(
            f"clickhouse database name {database!r}: letters, digits and _ only, "
            "not starting with a digit"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"clickhouse URL {url!r}: the port must be a number") from None
    query = parse_qs(parts.query)
    unknown = set(query) - {"settings", "cluster", "replicated"}
    if unknown:
        raise ValueError(f"clickhouse URL: unknown option(s) {', '.join(sorted(unknown))}")
    settings_url = query.get("settings", [DEFAULT_SETTINGS_URL])[-1]
    if is_clickhouse_url(settings_url):
        raise ValueError("clickhouse URL: settings= must name a SQL database, not ClickHouse")
    cluster = query.get("cluster", [None])[-1]
    if cluster is not None and not _DATABASE_NAME.match(cluster):
        raise ValueError(f"clickhouse URL: cluster name {cluster!r}: letters, digits and _ only")
    replicated = query.get("replicated", [None])[-1]
    if replicated not in (None, "true", "false"):
        raise ValueError("clickhouse URL: replicated= must be true or false")
    return ClickHouseUrl(
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=database,
        settings_url=settings_url,
        cluster=cluster,
        replicated=None if replicated is None else replicated == "true",
    )
