"""Flask-Chest's ``flask_chest`` decorator and chests, on Lookout.

    from lookout.compat.flask_chest import (
        FlaskChestCustomWriter, FlaskChestInfluxDB, FlaskChestMongoDB, FlaskChestMySQL,
        FlaskChestPostgreSQL, FlaskChestSQLite, flask_chest)

After a decorated view returns, the chosen ``g`` variables (a list, a dict per HTTP method, or
None for every public ``g`` attribute) are captured with the request id and handed to each
chest's background exporter: a Lookout Recorder with one sink, which batches them on a
schedule (every ``batch_interval``, 1 s by default), thread-safely, with retries, and
counts what it could not write. Values are coerced to JSON and secrets (passwords, tokens...)
redacted, as everywhere in Lookout.

Where the data lands: SQL chests write key-value rows (``request_id``, ``variable_name``,
``variable_value`` as JSON, ``endpoint``, ``method``, ``recorded_at``) to a ``flask_chest``
table they create; the MongoDB chest one such document per variable; the InfluxDB chest one
point per request with each variable a field and your ``custom_tags``; the custom writer POSTs
whatever ``payload_generator`` makes of the ``(variable_name, variable_value, request_id)``
tuples.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, g, request

from lookout.compat import warn_once
from lookout.core import Lookout
from lookout.events import Event, make_event
from lookout.sinks.base import BaseSink, Sink

F = TypeVar("F", bound=Callable[..., Any])
TrackedVars = Sequence[str] | Mapping[str, Sequence[str]] | None
logger = logging.getLogger("lookout.compat.flask_chest")


class FlaskChestError(RuntimeError):
    """Raised by the decorator (when ``raise_exceptions``) if a value could not be queued."""


def tracked_values(event: Event) -> dict[str, Any]:
    tracked = event.fields.get("g")
    return dict(tracked) if isinstance(tracked, dict) else {}


def context_tuples(batch: Sequence[Event]) -> list[tuple[str, Any, str]]:
    """The ``(variable_name, variable_value, request_id)`` tuples Flask-Chest's payload
    generators take."""
    return [
        (name, value, event.request_id or "")
        for event in batch
        for name, value in tracked_values(event).items()
    ]


class _LoggedSink(BaseSink):
    """Passes batches on, telling the chest's ``logger`` about failures (then re-raising, so
    the Recorder still retries and counts them)."""

    def __init__(self, inner: Sink, chest_logger: logging.Logger | None) -> None:
        self.inner, self.logger = inner, chest_logger
        self.name = inner.name

    def write(self, batch: Sequence[Event]) -> None:
        try:
            self.inner.write(batch)
        except Exception as error:
            if self.logger is not None:
                self.logger.error("flask_chest: writing %d values failed: %s", len(batch), error)
            raise
        if self.logger is not None:
            self.logger.debug("flask_chest: wrote %d requests to %s", len(batch), self.name)

    def close(self) -> None:
        self.inner.close()

    def after_fork(self) -> None:
        if hasattr(self.inner, "after_fork"):
            self.inner.after_fork()


class FlaskChest:
    """A destination with its own background exporter."""

    def __init__(self, sink: Sink, chest_logger: logging.Logger | None = None) -> None:
        self.lookout = Lookout(store=None, sinks=[_LoggedSink(sink, chest_logger)])
        self.logger = chest_logger

    def init_app(self, app: Flask) -> None:
        app.extensions.setdefault("flask_chest", []).append(self)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued now (tests, shutdown)."""
        return self.lookout.flush(timeout)

    def close(self) -> None:
        self.lookout.close()


# -- SQL: key-value rows --------------------------------------------------------------------------
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
            sa.Column("request_id", sa.String(128), index=True),
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


class FlaskChestSQLite(FlaskChest):
    """Key-value rows in SQLite (``db_uri`` a SQLAlchemy URL or a file path)."""

    def __init__(
        self,
        app: Flask | None = None,
        db_uri: str = "sqlite:///flask_chest.db",
        logger: logging.Logger | None = None,
    ) -> None:
        url = db_uri if "://" in db_uri else f"sqlite:///{db_uri}"
        super().__init__(KeyValueSqlSink(url), logger)
        if app is not None:
            self.init_app(app)


class FlaskChestMySQL(FlaskChest):
    """Key-value rows in MySQL or MariaDB."""

    def __init__(
        self,
        app: Flask | None = None,
        host: str = "localhost",
        port: int = 3306,
        user: str = "root",
        password: str = "",
        database: str = "flask_chest",
        logger: logging.Logger | None = None,
    ) -> None:
        url = sa.engine.URL.create("mysql+pymysql", user, password or None, host, port, database)
        super().__init__(KeyValueSqlSink(url.render_as_string(hide_password=False)), logger)
        if app is not None:
            self.init_app(app)


class FlaskChestPostgreSQL(FlaskChest):
    """Key-value rows in PostgreSQL."""

    def __init__(
        self,
        app: Flask | None = None,
        host: str = "localhost",
        port: int = 5432,
        user: str = "postgres",
        password: str = "",
        database: str = "flask_chest",
        logger: logging.Logger | None = None,
    ) -> None:
        url = sa.engine.URL.create(
            "postgresql+psycopg", user, password or None, host, port, database
        )
        super().__init__(KeyValueSqlSink(url.render_as_string(hide_password=False)), logger)
        if app is not None:
            self.init_app(app)


# -- MongoDB: one document per variable -----------------------------------------------------------
def _mongo_sink(uri: str, database: str, collection: str) -> Sink:
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


class FlaskChestMongoDB(FlaskChest):
    """One document per tracked variable in MongoDB."""

    def __init__(
        self,
        app: Flask | None = None,
        host: str = "localhost",
        port: int = 27017,
        database: str = "flask_chest",
        collection: str = "flask_chest",
        username: str | None = None,
        password: str | None = None,
        uri: str | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if uri is None:
            from urllib.parse import quote_plus

            credentials = (
                f"{quote_plus(username)}:{quote_plus(password or '')}@" if username else ""
            )
            uri = f"mongodb://{credentials}{host}:{port}/"
        super().__init__(_mongo_sink(uri, database, collection), logger)
        if app is not None:
            self.init_app(app)


# -- InfluxDB: points with custom tags ------------------------------------------------------------
class FlaskChestInfluxDB(FlaskChest):
    """One point per request (measurement ``flask_chest_request``) in an InfluxDB 2.x bucket,
    each tracked variable a field, with ``custom_tags``."""

    def __init__(
        self,
        app: Flask | None = None,
        https: bool = False,
        host: str = "localhost",
        port: int = 8086,
        token: str = "",
        org: str = "my-org",
        bucket: str = "my-bucket",
        custom_tags: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        from lookout.sinks.influx import InfluxSink

        scheme = "https" if https else "http"
        sink = InfluxSink(
            f"{scheme}://{host}:{port}",
            bucket=bucket,
            org=org,
            token=token,
            measurement_prefix="flask_chest_",
            tags=dict(custom_tags or {}),
        )
        super().__init__(sink, logger)
        if app is not None:
            self.init_app(app)


# -- any HTTP backend -----------------------------------------------------------------------------
class FlaskChestCustomWriter(FlaskChest):
    """POSTs ``payload_generator(context_tuple_list)`` (default: the tuples as JSON arrays)."""

    def __init__(
        self,
        app: Flask | None = None,
        https: bool = False,
        host: str = "localhost",
        port: str | int = "",
        headers: Mapping[str, str] | None = None,
        payload_generator: Callable[[list[tuple[str, Any, str]]], Any] | None = None,
        verify: bool = False,
        success_status_codes: Sequence[int] = (200,),
        logger: logging.Logger | None = None,
    ) -> None:
        from lookout.sinks.http import HttpSink

        if https and not verify:
            warn_once(
                "flask-chest-verify",
                "FlaskChestCustomWriter does not verify TLS certificates (Flask-Chest's "
                "default verify=False); pass verify=True, or a CA bundle path",
            )
        generate = payload_generator or (lambda tuples: [list(t) for t in tuples])
        scheme = "https" if https else "http"
        url = f"{scheme}://{host}{f':{port}' if port != '' else ''}/"
        sink = HttpSink(
            url,
            headers=dict(headers or {}),
            payload_generator=lambda batch: generate(context_tuples(batch)),
            verify=verify,
            success_status_codes=tuple(success_status_codes),
        )
        super().__init__(sink, logger)
        if app is not None:
            self.init_app(app)


# -- the decorator --------------------------------------------------------------------------------
def _names(tracked_vars: TrackedVars, method: str) -> list[str] | None:
    if tracked_vars is None:
        return None
    if isinstance(tracked_vars, Mapping):
        return list(tracked_vars.get(method, ()))
    return list(tracked_vars)


def flask_chest(
    chests: Sequence[FlaskChest] | None = None,
    tracked_vars: TrackedVars = None,
    request_id_generator: Callable[[], str] = lambda: str(uuid.uuid4()),
    raise_exceptions: bool = True,
) -> Callable[[F], F]:
    """Record the chosen ``g`` variables of each request to ``chests`` after the view ran.

    Args:
        chests: where to write.
        tracked_vars: variable names, a dict of names per HTTP method, or None for all of
            ``g``'s public attributes.
        request_id_generator: makes each request's id.
        raise_exceptions: raise when the id cannot be made or a value cannot be queued
            (the chest's queue is full); False logs and lets the response through.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started_ns, t0 = time.time_ns(), time.perf_counter_ns()
            result = view(*args, **kwargs)  # the view's own errors are untouched
            try:
                _record(chests or (), tracked_vars, request_id_generator, started_ns, t0)
            except Exception:
                if raise_exceptions:
                    raise
                logger.exception("flask_chest: could not record this request")
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def _record(
    chests: Sequence[FlaskChest],
    tracked_vars: TrackedVars,
    request_id_generator: Callable[[], str],
    started_ns: int,
    t0: int,
) -> None:
    request_id = str(request_id_generator())
    names = _names(tracked_vars, request.method)
    if names is None:
        names = [name for name in g if not name.startswith("_")]
    values = {name: getattr(g, name) for name in names if hasattr(g, name)}
    event = make_event(
        "request",
        request.endpoint or request.path,
        start_ns=started_ns,
        duration_ns=time.perf_counter_ns() - t0,
        request_id=request_id,
        tags={"method": request.method},
        fields={"g": values},
    )
    for chest in chests:
        if not chest.lookout.emit(event):
            raise FlaskChestError("a chest's queue is full: the values were dropped (counted)")
