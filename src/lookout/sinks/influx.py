"""The InfluxDB sink: events as points in line protocol, through the v1 or the v2 write API.

One measurement per kind (``lookout_request``, ``lookout_call``, ``lookout_metric``,
``lookout_run``, ``lookout_message``). Tags are the low-cardinality labels InfluxDB indexes:
host, app version, name, outcome, status, error type, the event's own tags (method, unit) and
the ``tags`` you configure. Everything unbounded (request id, user, client IP, tracked values,
error message) is a field, because every distinct tag value creates a series. Timestamps keep
their nanoseconds.

Integers are written as floats: a tracked value that is ``3`` in one request and ``2.5`` in
the next would otherwise be refused by InfluxDB as a field type conflict.

- v1 (InfluxDB 1.x, and 2.x's compatibility endpoint): ``database`` (and optionally
  ``retention_policy``, ``username``/``password``), ``POST /write``.
- v2 (InfluxDB 2.x and Cloud): ``bucket``, ``org`` and ``token`` through ``influxdb-client``'s
  synchronous write API. The Recorder already batches and retries, so the client's own
  background batching is not used: its errors would not reach Lookout's counters.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from lookout._internal import optional_dependency
from lookout.events import Event
from lookout.sinks.base import BaseSink, PermanentWriteError, RetryLater
from lookout.sinks.http import HttpSink, parse_retry_after

with optional_dependency("influx", "the InfluxDB sink"):
    import requests
    from influxdb_client import InfluxDBClient, Point, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException

#: Fields every point carries; a tracked value with one of these names gets a ``_`` prefix.
RESERVED_FIELDS = frozenset(
    {"duration_ms", "pid", "request_id", "group", "client_ip", "error_message"}
)
_DROPPED = re.compile(r"dropped=(\d+)")


def event_point(
    event: Event, measurement_prefix: str = "lookout_", tags: Mapping[str, str] | None = None
) -> Point:
    """The event as an InfluxDB point (see the module's docstring for the mapping)."""
    point = Point(measurement_prefix + event.kind)
    labels: dict[str, Any] = {
        **(tags or {}),
        "host": event.host,
        "name": event.name,
        "outcome": event.outcome,
        "version": event.app_version,
        "status": event.status,
        "error_type": event.error_type,
        **event.tags,
    }
    fields = dict(event.fields)
    if event.kind == "metric" and "unit" in fields:
        labels["unit"] = fields.pop("unit")
    for key, value in labels.items():
        if value is not None and value != "":
            point.tag(key, str(value))
    point.field("duration_ms", event.duration_ns / 1e6)
    point.field("pid", float(event.pid))
    for key in ("request_id", "group", "client_ip", "error_message"):
        value = getattr(event, key)
        if value is not None:
            point.field(key, value)
    tracked_g = fields.pop("g", None)  # the Flask integration's g variables: one field each
    if isinstance(tracked_g, dict):
        fields = {**tracked_g, **fields}
    for key, value in fields.items():
        if value is not None:
            point.field(f"_{key}" if key in RESERVED_FIELDS else key, _field_value(value))
    point.time(event.start_ns, WritePrecision.NS)
    return point


def _field_value(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)  # one numeric type, so 3 and 2.5 never conflict
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


class _V1Writer(HttpSink):
    """``POST /write``: HttpSink's delivery, with InfluxDB's partial writes counted exactly."""

    def rejected_count(self, response: requests.Response) -> int | None:
        match = _DROPPED.search(response.text)
        return int(match.group(1)) if match and response.status_code == 400 else None


class InfluxSink(BaseSink):
    """Writes events to InfluxDB.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8086``.
        database: v1: the database (it must exist).
        retention_policy: v1: the retention policy (default: the database's default).
        username: v1: user name (sent as HTTP basic auth, never in the URL).
        password: v1: password.
        bucket: v2: the bucket.
        org: v2: the organisation.
        token: v2: an API token with write access to the bucket.
        measurement_prefix: put before the kind to name the measurement.
        tags: added to every point (e.g. ``{"app": "shop", "env": "prod"}``); keep them few
            and low-cardinality.
        gzip_body: compress request bodies.
        verify: verify TLS certificates (default True), or a CA bundle path.
        timeout: seconds for connecting and for reading the answer.
    """

    name = "influx"

    def __init__(
        self,
        url: str = "http://127.0.0.1:8086",
        *,
        database: str | None = None,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        bucket: str | None = None,
        org: str | None = None,
        token: str | None = None,
        measurement_prefix: str = "lookout_",
        tags: Mapping[str, str] | None = None,
        gzip_body: bool = False,
        verify: bool | str = True,
        timeout: float = 10.0,
    ) -> None:
        if (database is None) == (bucket is None):
            raise ValueError(
                "InfluxSink: give database= (v1 API) or bucket= with org= and token= (v2 API)"
            )
        if bucket is not None and (not org or token is None):
            raise ValueError("InfluxSink: the v2 API needs org= and token= with bucket=")
        self.url = url.rstrip("/")
        self.database, self.bucket, self.org = database, bucket, org
        self.measurement_prefix = measurement_prefix
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self._v1: _V1Writer | None = None
        self._v2: Any = None
        self._v2_options: dict[str, Any] = {
            "url": self.url,
            "token": token,
            "org": org,
            "timeout": int(timeout * 1000),
            "enable_gzip": gzip_body,
            "verify_ssl": verify is not False,
            "ssl_ca_cert": verify if isinstance(verify, str) else None,
            "retries": False,  # the Recorder retries, and counts
        }
        if database is not None:
            query = {"db": database, "precision": "ns"}
            if retention_policy:
                query["rp"] = retention_policy
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            if username is not None:
                credentials = f"{username}:{password or ''}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
            self._v1 = _V1Writer(
                f"{self.url}/write?{urllib.parse.urlencode(query)}",
                headers=headers,
                payload_generator=self.line_protocol,
                gzip_body=gzip_body,
                verify=verify,
                success_status_codes=(204,),
                timeout=timeout,
            )

    def line_protocol(self, batch: Sequence[Event]) -> str:
        """The batch as line protocol, one point per line."""
        return "\n".join(
            event_point(event, self.measurement_prefix, self.tags).to_line_protocol()
            for event in batch
        )

    def write(self, batch: Sequence[Event]) -> None:
        if self._v1 is not None:
            self._v1.write(batch)
            return
        try:
            self._write_api().write(
                bucket=self.bucket,
                org=self.org,
                record=self.line_protocol(batch),
                write_precision=WritePrecision.NS,
            )
        except ApiException as exc:
            detail = f"InfluxDB {self.url} answered {exc.status}: {str(exc.body)[:200]!r}"
            if exc.status == 429 or (exc.status or 500) >= 500:
                headers = exc.headers or {}
                raise RetryLater(detail, parse_retry_after(headers.get("Retry-After"))) from exc
            raise PermanentWriteError(detail) from exc

    def _write_api(self) -> Any:
        if self._v2 is None:
            client = InfluxDBClient(**self._v2_options)
            self._v2 = (client, client.write_api(write_options=SYNCHRONOUS))
        return self._v2[1]

    def after_fork(self) -> None:
        if self._v1 is not None:
            self._v1.after_fork()
        self._v2 = None  # its connection pool belongs to the parent

    def close(self) -> None:
        if self._v1 is not None:
            self._v1.close()
        if self._v2 is not None:
            self._v2[0].close()
            self._v2 = None

    def check(self) -> str:
        if self._v1 is not None:
            # An empty write is refused exactly as a real one would be (missing database,
            # bad credentials) and stores nothing.
            self._v1.write([])
            return f"{self.url} database {self.database!r}: reachable, authenticated, writable"
        try:
            self._write_api().write(bucket=self.bucket, org=self.org, record="")
        except ApiException as exc:
            # InfluxDB 2.x checks the token and the bucket before it finds the body empty.
            if exc.status != 400 or "requires points" not in str(exc.body):
                raise
        return f"{self.url} bucket {self.bucket!r}: reachable, authenticated, writable"
