"""Where Flask-Chest's chests write, in the layouts Flask-Chest 0.0.10 wrote.

Each is a Lookout sink taking a batch of request events (each with its tracked ``g`` values
under ``fields["g"]``), so one chest serves both paths of the decorator: a direct write in the
request (``raise_exceptions=True``) and the background exporter (``False``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lookout.events import Event
from lookout.sinks.base import BaseSink, Sink
from lookout.sinks.http import check_delivery

ContextTuple = tuple[str, Any, str]


def tracked_values(event: Event) -> dict[str, Any]:
    tracked = event.fields.get("g")
    return dict(tracked) if isinstance(tracked, dict) else {}


def context_tuples(batch: Sequence[Event]) -> list[tuple[str, Any, str]]:
    """The ``(variable_name, variable_value, request_id)`` tuples Flask-Chest's chests and
    payload generators take."""
    return [
        (name, value, event.request_id or "")
        for event in batch
        for name, value in tracked_values(event).items()
    ]


def _scalar(value: Any) -> Any:
    """A value as the original bound or wrote it; lists and dicts (which the original could
    not write) as JSON text."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


# -- SQLite: Flask-Chest's own table --------------------------------------------------------------
class SqliteChestSink(BaseSink):
    """Flask-Chest's SQLite table: ``unique_id``, ``request_id``, ``name``, ``value`` (all TEXT
    but the id), created if missing, one row per tracked variable, through :mod:`sqlite3`
    with the original's statements, so values are stored as the original stored them."""

    name = "flask_chest_sqlite"

    def __init__(self, path: str, table: str = "flask_chest") -> None:
        if not table.replace("_", "").isalnum():
            raise ValueError(f"FlaskChestSQLite: name must be a plain table name; got {table!r}")
        self.path, self.table = path, table
        self._lock = threading.Lock()
        self._create()

    def _create(self) -> None:
        with self._lock, sqlite3.connect(self.path) as connection:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (unique_id INTEGER PRIMARY KEY "
                "AUTOINCREMENT, request_id TEXT, name TEXT, value TEXT)"
            )

    def write(self, batch: Sequence[Event]) -> None:
        rows = [(rid, name, _scalar(value)) for name, value, rid in context_tuples(batch)]
        if not rows:
            return
        with self._lock:
            connection = sqlite3.connect(self.path, timeout=30)
            try:
                with connection:
                    connection.executemany(
                        f"INSERT INTO {self.table} (request_id, name, value) VALUES (?, ?, ?)",
                        rows,
                    )
            finally:
                connection.close()


# -- MySQL, PostgreSQL: key-value rows (no original: Flask-Chest 0.0.10 had no such chest) -------
class KeyValueSqlSink(BaseSink):
    """One row per tracked variable, in a table it creates."""

    name = "flask_chest_sql"

    def __init__(self, url: str, table: str = "flask_chest") -> None:
        from lookout.store.engine import normalize_url

        self.engine = sa.create_engine(normalize_url(url), pool_pre_ping=True)
        self.table = sa.Table(
            table,
            sa.MetaData(),
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            sa.Column("request_id", sa.String(255), index=True),
            sa.Column("variable_name", sa.String(255), nullable=False),
            sa.Column("variable_value", sa.Text),
            sa.Column("endpoint", sa.String(255)),
            sa.Column("method", sa.String(16)),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        )
        self._created = False

    def write(self, batch: Sequence[Event]) -> None:
        rows = [
            {
                "request_id": event.request_id,
                "variable_name": name,
                "variable_value": json.dumps(value, ensure_ascii=False),
                "endpoint": event.name,
                "method": event.tags.get("method"),
                "recorded_at": dt.datetime.fromtimestamp(event.start_ns / 1e9, dt.timezone.utc),
            }
            for event in batch
            for name, value in tracked_values(event).items()
        ]
        if not self._created:
            self.table.create(self.engine, checkfirst=True)
            self._created = True
        if rows:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(self.table), rows)

    def after_fork(self) -> None:
        self.engine.dispose(close=False)

    def close(self) -> None:
        self.engine.dispose()


# -- MongoDB: one document per variable -----------------------------------------------------------
def mongo_sink(uri: str, database: str, collection: str) -> Sink:
    from lookout.sinks.mongo import MongoSink

    class KeyValueMongoSink(MongoSink):
        name = "flask_chest_mongo"

        @staticmethod
        def _make_documents(batch: Sequence[Event]) -> list[dict[str, Any]]:
            import bson

            return [
                {
                    "_id": bson.ObjectId(),
                    "request_id": event.request_id,
                    "variable_name": name,
                    "variable_value": value,
                    "endpoint": event.name,
                    "method": event.tags.get("method"),
                    "time": dt.datetime.fromtimestamp(event.start_ns / 1e9, dt.timezone.utc),
                }
                for event in batch
                for name, value in tracked_values(event).items()
            ]

    return KeyValueMongoSink(uri, database=database, collection=collection)


# -- InfluxDB: Flask-Chest's points ---------------------------------------------------------------
def chest_points(batch: Sequence[Event], custom_tags: Mapping[str, str]) -> str:
    """Flask-Chest's points as line protocol: one per tracked variable, its name the
    measurement, tags ``request_id`` and ``custom_tags``, one field ``value``, the time the
    view returned in nanoseconds. Serialised by influxdb-client's ``Point.from_dict``, as the
    original's ``write_api.write(record=[dict, ...])`` does."""
    from influxdb_client import Point, WritePrecision

    lines = []
    for event in batch:
        stamp = event.start_ns + event.duration_ns
        for name, value in tracked_values(event).items():
            point = {
                "measurement": name,
                "tags": {"request_id": event.request_id, **custom_tags},
                "fields": {"value": _scalar(value)},
                "time": stamp,
            }
            line = Point.from_dict(point, WritePrecision.NS).to_line_protocol()
            if line:
                lines.append(line)
    return "\n".join(lines)


class InfluxChestSink(BaseSink):
    """Writes :func:`chest_points` through InfluxDB's v2 API (``/api/v2/write``, with
    ``Authorization: Token`` when a token is given, as influxdb-client sends it). Without a
    token, a server without the v2 API (InfluxDB 1.x before 1.8) is written through its v1
    ``/write`` API, into the database named like the bucket."""

    name = "flask_chest_influxdb"

    def __init__(
        self, url: str, token: str | None, org: str, bucket: str, custom_tags: Mapping[str, str]
    ) -> None:
        import requests

        self.url, self.token, self.org, self.bucket = url.rstrip("/"), token, org, bucket
        self.custom_tags = {str(k): str(v) for k, v in custom_tags.items()}
        self._session = requests.Session()
        self._v1 = False

    def write(self, batch: Sequence[Event]) -> None:
        body = chest_points(batch, self.custom_tags).encode("utf-8")
        if not body:
            return
        headers = {"Content-Type": "text/plain"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if not self._v1:
            query = {"org": self.org, "bucket": self.bucket, "precision": "ns"}
            url = f"{self.url}/api/v2/write?{urllib.parse.urlencode(query)}"
            response = self._session.post(url, data=body, headers=headers, timeout=10)
            if response.status_code != 404 or self.token:
                check_delivery(response, (204,), f"InfluxDB {self.url}")
                return
            self._v1 = True  # no v2 API and no token: an InfluxDB 1.x server
        query = {"db": self.bucket, "precision": "ns"}
        url = f"{self.url}/write?{urllib.parse.urlencode(query)}"
        response = self._session.post(url, data=body, headers=headers, timeout=10)
        check_delivery(response, (204,), f"InfluxDB {self.url}")

    def after_fork(self) -> None:
        import requests

        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()


# -- any HTTP backend -----------------------------------------------------------------------------
class CustomWriterSink(BaseSink):
    """POSTs ``payload_generator(context_tuple_list)`` as Flask-Chest did, with requests'
    ``data=``: a dict is sent form-encoded, str and bytes as they are."""

    name = "flask_chest_custom"

    def __init__(
        self,
        url: str,
        payload_generator: Callable[[list[ContextTuple]], Any],
        headers: Mapping[str, str] | None,
        params: Any,
        proxies: Mapping[str, str] | None,
        verify: bool | str,
        success_status_codes: Sequence[int],
    ) -> None:
        import requests

        self.url, self.generate = url, payload_generator
        self.headers = None if headers is None else dict(headers)
        self.params, self.verify = params, verify
        self.proxies = None if proxies is None else dict(proxies)
        self.success_status_codes = tuple(success_status_codes)
        self._session = requests.Session()

    def write(self, batch: Sequence[Event]) -> None:
        payload = self.generate(context_tuples(batch))
        response = self._session.post(
            self.url,
            headers=self.headers,
            params=self.params,
            proxies=self.proxies,
            data=payload,
            verify=self.verify,
            timeout=30,
        )
        check_delivery(response, self.success_status_codes, f"POST {self.url}")

    def close(self) -> None:
        self._session.close()
