"""Flask-Chest's ``flask_chest`` decorator and chests, on Lookout.

    from lookout.compat.flask_chest import (
        FlaskChestCustomWriter, FlaskChestInfluxDB, FlaskChestMongoDB, FlaskChestMySQL,
        FlaskChestPostgreSQL, FlaskChestSQLite, flask_chest)

As in Flask-Chest 0.0.10, the decorator makes the request id before the view runs
(``g.custom_request_id``, at most 255 characters) and, after the view returns, writes the
chosen ``g`` variables (a dict of names per HTTP method, a list for every method, or None for
every public ``g`` attribute) to each chest as ``(variable_name, variable_value, request_id)``.

- ``raise_exceptions=True`` (the default): each chest is written in the request, before the
  response, and a failure raises :class:`FlaskChestError` out of the view (Flask answers 500),
  as the original raised its chest's error. Costs the chest's round trip on every request.
- ``raise_exceptions=False``: the values are queued for each chest's background exporter (a
  Lookout Recorder: batched every second, thread-safe, retried, counted) and a failure is
  logged, never raised. Costs microseconds in the request.

Values are recorded as given (never redacted unless the ``redact_keys`` setting names them)
and whole up to :data:`lookout.compat.COMPAT_MAX_BYTES`. Where the data lands is in
docs/migrating/flask-chest.md; the layouts are those of :mod:`lookout.compat.flask_chest_sinks`.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, g, request

from lookout.compat import UnsupportedOption, compat_lookout, warn_once
from lookout.compat.flask_chest_sinks import (
    ContextTuple,
    CustomWriterSink,
    InfluxChestSink,
    KeyValueSqlSink,
    SqliteChestSink,
    context_tuples,
    mongo_sink,
    tracked_values,
)
from lookout.events import Event, make_event
from lookout.sinks.base import BaseSink, Sink

F = TypeVar("F", bound=Callable[..., Any])
TrackedVars = Sequence[str] | Mapping[str, Sequence[str]] | None
logger = logging.getLogger("lookout.compat.flask_chest")
REQUEST_ID_ATTRIBUTE = "custom_request_id"
MAX_REQUEST_ID = 255

__all__ = [
    "FlaskChest",
    "FlaskChestCustomWriter",
    "FlaskChestError",
    "FlaskChestInfluxDB",
    "FlaskChestMongoDB",
    "FlaskChestMySQL",
    "FlaskChestPostgreSQL",
    "FlaskChestSQLite",
    "context_tuples",
    "flask_chest",
    "tracked_values",
]


class FlaskChestError(RuntimeError):
    """A chest could not be written (``raise_exceptions=True``) or its queue is full."""


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
    """A destination: written directly (:meth:`write_now`) or by its background exporter."""

    def __init__(self, sink: Sink, chest_logger: logging.Logger | None = None) -> None:
        self.sink = sink
        self.lookout = compat_lookout(sinks=[_LoggedSink(sink, chest_logger)])
        self.logger = chest_logger

    def init_app(self, app: Flask) -> None:
        app.extensions.setdefault("flask_chest", []).append(self)

    def write_now(self, event: Event) -> None:
        """Write one request's values in this thread; raise :class:`FlaskChestError`."""
        redacted = self.lookout.recorder.redactor.redact(event.fields)
        if redacted is not event.fields:
            event = event._replace(fields=redacted)
        try:
            self.sink.write([event])
        except Exception as error:
            if self.logger is not None:
                self.logger.error("flask_chest: writing failed: %s", error)
            raise FlaskChestError(
                f"{type(self).__name__}: Error occurred when writing to {self.sink.name}: {error}"
            ) from error

    def write(self, context_tuple_list: Sequence[ContextTuple]) -> None:
        """Flask-Chest's own method: write ``(name, value, request_id)`` tuples now."""
        by_request: dict[str, dict[str, Any]] = {}
        for name, value, request_id in context_tuple_list:
            by_request.setdefault(request_id, {})[name] = value
        for request_id, values in by_request.items():
            self.write_now(
                make_event(
                    "request",
                    "flask_chest",
                    request_id=request_id or None,
                    fields={"g": values},
                    limits=self.lookout.limits,
                )
            )

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued now (tests, shutdown)."""
        return self.lookout.flush(timeout)

    def close(self) -> None:
        self.lookout.close()


class FlaskChestSQLite(FlaskChest):
    """Flask-Chest's SQLite table ``name`` (``unique_id``, ``request_id``, ``name``,
    ``value``) in the file ``db_uri`` (a path, or a ``sqlite:///`` URL)."""

    def __init__(
        self,
        app: Flask | None = None,
        name: str = "flask_chest",
        db_uri: str = "db.sqlite3",
        logger: logging.Logger | None = None,
    ) -> None:
        path = db_uri.removeprefix("sqlite:///") if db_uri.startswith("sqlite:///") else db_uri
        if "://" in path:
            raise UnsupportedOption(f"FlaskChestSQLite: db_uri must be a file path; got {db_uri!r}")
        super().__init__(SqliteChestSink(path, name), logger)
        if app is not None:
            self.init_app(app)


class FlaskChestMySQL(FlaskChest):
    """Key-value rows in MySQL or MariaDB (a Lookout chest: Flask-Chest 0.0.10 had none)."""

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
    """Key-value rows in PostgreSQL (a Lookout chest: Flask-Chest 0.0.10 had none)."""

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


class FlaskChestMongoDB(FlaskChest):
    """One document per tracked variable in MongoDB (a Lookout chest)."""

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
        super().__init__(mongo_sink(uri, database, collection), logger)
        if app is not None:
            self.init_app(app)


class FlaskChestInfluxDB(FlaskChest):
    """Flask-Chest's points in an InfluxDB bucket: one per tracked variable, measured under
    the variable's name, tagged ``request_id`` and ``custom_tags``, field ``value``. ``token``
    may be empty or None (``os.getenv("INFLUXDB_TOKEN")`` unset) for a server that needs none."""

    def __init__(
        self,
        app: Flask | None = None,
        https: bool = False,
        host: str = "localhost",
        port: int = 8086,
        token: str | None = "",
        org: str = "my-org",
        bucket: str = "my-bucket",
        custom_tags: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        scheme = "https" if https else "http"
        sink = InfluxChestSink(
            f"{scheme}://{host}:{port}", token or None, org, bucket, dict(custom_tags or {})
        )
        super().__init__(sink, logger)
        if app is not None:
            self.init_app(app)


class FlaskChestCustomWriter(FlaskChest):
    """POSTs ``payload_generator(context_tuple_list)`` to ``url`` (or ``https``/``host``/
    ``port``, as the README documents), sent as requests' ``data=`` (a dict form-encoded).
    Without a ``payload_generator`` (which the original needed), the tuples go as JSON."""

    def __init__(
        self,
        app: Flask | None = None,
        https: bool = False,
        host: str = "localhost",
        port: str | int = "",
        headers: Mapping[str, str] | None = None,
        payload_generator: Callable[[list[ContextTuple]], Any] | None = None,
        verify: bool | str = False,
        success_status_codes: Sequence[int] = (200,),
        logger: logging.Logger | None = None,
        *,
        name: str | None = None,
        url: str | None = None,
        params: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        if https and not verify:
            warn_once(
                "flask-chest-verify",
                "FlaskChestCustomWriter does not verify TLS certificates (Flask-Chest's "
                "default verify=False); pass verify=True, or a CA bundle path",
            )
        if url is None:
            scheme = "https" if https else "http"
            url = f"{scheme}://{host}{f':{port}' if port != '' else ''}/"
        self.name = name or url
        generate = payload_generator or _json_tuples
        sink = CustomWriterSink(
            url, generate, headers, params, proxies, verify, success_status_codes
        )
        super().__init__(sink, logger)
        if app is not None:
            self.init_app(app)


def _json_tuples(tuples: list[ContextTuple]) -> str:
    import json

    return json.dumps([list(t) for t in tuples], ensure_ascii=False, default=str)


# -- the decorator --------------------------------------------------------------------------------
def _names(tracked_vars: TrackedVars, method: str) -> list[str] | None:
    if tracked_vars is None:
        return None
    if isinstance(tracked_vars, Mapping):
        found: list[str] = []
        for key, names in tracked_vars.items():  # the original upper-cases the dict's keys
            if str(key).upper() == method:
                found.extend(names)
        return found
    if isinstance(tracked_vars, str):
        raise UnsupportedOption(
            f"flask_chest: tracked_vars must be a dict per method, a list or None; got "
            f"{tracked_vars!r}"
        )
    return list(tracked_vars)


def flask_chest(
    chests: Sequence[FlaskChest] | None = None,
    tracked_vars: TrackedVars = None,
    request_id_generator: Callable[[], Any] | None = lambda: str(uuid.uuid4()),
    raise_exceptions: bool = True,
) -> Callable[[F], F]:
    """Record the chosen ``g`` variables of each request to ``chests`` after the view ran
    (see the module docstring for ``raise_exceptions``)."""
    for chest in chests or ():
        if not isinstance(chest, FlaskChest):
            raise UnsupportedOption(
                f"flask_chest: chests must be FlaskChest objects; got {chest!r}"
            )
    _names(tracked_vars, "GET")  # refuses a bad tracked_vars now, not at the first request

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started_ns, t0 = time.time_ns(), time.perf_counter_ns()
            rid = str(request_id_generator() if callable(request_id_generator) else uuid.uuid4())
            setattr(g, REQUEST_ID_ATTRIBUTE, rid[:MAX_REQUEST_ID])
            result = view(*args, **kwargs)  # the view's own errors are untouched
            duration_ns = time.perf_counter_ns() - t0
            if raise_exceptions:
                for chest in chests or ():
                    chest.write_now(_event(chest, tracked_vars, started_ns, duration_ns))
                return result
            try:
                for chest in chests or ():
                    if not chest.lookout.emit(_event(chest, tracked_vars, started_ns, duration_ns)):
                        raise FlaskChestError("a chest's queue is full: the values were dropped")
            except Exception as error:
                log = getattr(chest, "logger", None) or logger
                log.debug("flask_chest: could not record this request: %s", error)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def _event(chest: FlaskChest, tracked_vars: TrackedVars, started_ns: int, duration: int) -> Event:
    names = _names(tracked_vars, request.method)
    if names is None:
        names = [n for n in g if not n.startswith("_") and n != REQUEST_ID_ATTRIBUTE]
    values = {name: getattr(g, name) for name in names if hasattr(g, name)}
    return make_event(
        "request",
        request.endpoint or request.path,
        start_ns=started_ns,
        duration_ns=duration,
        request_id=getattr(g, REQUEST_ID_ATTRIBUTE, None),
        tags={"method": request.method},
        fields={"g": values},
        limits=chest.lookout.limits,
    )
