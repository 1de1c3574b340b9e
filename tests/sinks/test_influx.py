"""The InfluxDB sink: the v1 API against a real influxd 1.x on 127.0.0.1, reading back what
was written; the v2 API at the HTTP level against a local receiver (no 2.x server here)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

pytest.importorskip("influxdb_client")

from lookout import Lookout, make_event
from lookout.sinks.influx import InfluxSink
from lookout.sinks.registry import build_sink
from tests.receivers import Receiver
from tests.sinks.conftest import InfluxServer

START_NS = 1_790_000_000_123_456_789


def _lookout(sink: InfluxSink, **options: Any) -> Lookout:
    settings: dict[str, Any] = {"batch_interval": 0.01, "retry_backoff": 0.01}
    settings.update(options)
    return Lookout(store=None, sinks=[sink], app_version="2.1", **settings)


@pytest.fixture
def database(influx_server: InfluxServer) -> str:
    name = f"lookout_{uuid.uuid4().hex[:8]}"
    influx_server.query(f'CREATE DATABASE "{name}"')
    return name


def _rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(zip(s["columns"], values, strict=True)) for s in series for values in s["values"]]


@pytest.mark.parametrize("gzip_body", [False, True], ids=["plain", "gzip"])
def test_v1_points_read_back_with_tags_fields_and_nanoseconds(
    influx_server: InfluxServer, database: str, gzip_body: bool
) -> None:
    sink = InfluxSink(
        influx_server.url, database=database, tags={"app": "shop"}, gzip_body=gzip_body
    )
    lk = _lookout(sink)
    lk.emit(
        make_event(
            "request",
            "checkout",
            start_ns=START_NS,
            duration_ns=12_500_000,
            status=201,
            request_id="r-1",
            group="user 7",
            client_ip="10.0.0.1",
            tags={"method": "POST"},
            fields={"items": 3, "coupon": 'say "hi", ok', "cart": [1, 2], "token": "abc"},
        )
    )
    lk.emit(
        make_event(
            "metric", "basket_value", start_ns=START_NS + 1, fields={"value": 42, "unit": "Count"}
        )
    )
    try:
        raise ValueError("bad sku")
    except ValueError as error:
        lk.emit(make_event("call", "shop.price", start_ns=START_NS + 2, error=error))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["influx"]
    lk.close()
    assert (stats["written"], stats["failed"]) == (3, 0)

    [request] = _rows(influx_server.query("SELECT * FROM lookout_request", database))
    assert request["time"] == START_NS  # nanoseconds kept
    assert request["duration_ms"] == 12.5
    assert (request["name"], request["method"], request["status"]) == ("checkout", "POST", "201")
    assert (request["app"], request["version"], request["outcome"]) == ("shop", "2.1", "ok")
    assert (request["request_id"], request["group"], request["client_ip"]) == (
        "r-1",
        "user 7",
        "10.0.0.1",
    )
    assert (request["items"], request["coupon"], request["cart"]) == (3.0, 'say "hi", ok', "[1,2]")
    assert request["token"] == "abc"  # a value the user named is kept
    tag_keys = {
        row["tagKey"]
        for row in _rows(influx_server.query("SHOW TAG KEYS FROM lookout_request", database))
    }
    assert tag_keys == {"app", "host", "method", "name", "outcome", "status", "version"}
    [metric] = _rows(influx_server.query("SELECT * FROM lookout_metric", database))
    assert (metric["name"], metric["unit"], metric["value"]) == ("basket_value", "Count", 42.0)
    [call] = _rows(influx_server.query("SELECT * FROM lookout_call", database))
    assert (call["outcome"], call["error_type"], call["error_message"]) == (
        "error",
        "ValueError",
        "bad sku",
    )


def test_v1_field_type_conflict_counts_only_the_refused_points(
    influx_server: InfluxServer, database: str
) -> None:
    lk = _lookout(InfluxSink(influx_server.url, database=database), batch_interval=1)
    lk.emit(make_event("call", "f", fields={"v": 1}))  # v is a float field from now on
    assert lk.flush(10)
    for value in (2, "three", 4):
        lk.emit(make_event("call", "f", fields={"v": value}))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["influx"]
    lk.close()
    assert (stats["written"], stats["invalid"], stats["failed"], stats["retried"]) == (3, 1, 0, 0)
    assert "field type conflict" in stats["last_error"]
    assert len(_rows(influx_server.query("SELECT v FROM lookout_call", database))) == 3


def test_v1_missing_database_fails_at_once_and_check_says_why(
    influx_server: InfluxServer, database: str
) -> None:
    assert "writable" in InfluxSink(influx_server.url, database=database).check()
    missing = InfluxSink(influx_server.url, database="no_such_db")
    with pytest.raises(Exception, match="404"):
        missing.check()
    lk = _lookout(missing)
    lk.emit(make_event("call", "f"))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["influx"]
    lk.close()
    assert (stats["failed"], stats["retried"]) == (1, 0)


def test_v1_credentials_go_in_a_basic_auth_header_not_the_url(receiver: Receiver) -> None:
    receiver.plan = [(204, {})]
    base = receiver.url.rsplit("/", 1)[0]
    sink = InfluxSink(
        base, database="metrics", retention_policy="week", username="writer", password="s3cret"
    )
    sink.write([make_event("call", "f", start_ns=START_NS)])
    [request] = receiver.requests
    assert request["path"] == "/write?db=metrics&precision=ns&rp=week"
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"writer:s3cret").decode()
    body: bytes = request["body"]  # type: ignore[assignment]
    assert body.startswith(b"lookout_call,") and body.endswith(b" %d" % START_NS)


def test_v2_write_request_line_headers_and_body(receiver: Receiver) -> None:
    receiver.plan = [(204, {})]
    base = receiver.url.rsplit("/", 1)[0]
    sink = InfluxSink(base, bucket="events", org="acme", token="t0k3n", gzip_body=True)
    lk = _lookout(sink)
    lk.emit(make_event("request", "home", start_ns=START_NS, duration_ns=2_000_000, status=200))
    assert lk.flush(10)
    lk.close()
    [request] = receiver.requests
    assert request["path"] == "/api/v2/write?org=acme&bucket=events&precision=ns"
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    assert headers["Authorization"] == "Token t0k3n"
    assert headers["Content-Encoding"] == "gzip"  # the receiver decompressed the body
    event = make_event("request", "home")
    assert request["body"] == (
        b"lookout_request,host=%s,name=home,outcome=ok,status=200,version=2.1 "
        b"duration_ms=2,pid=%d %d" % (event.host.encode(), event.pid, START_NS)
    )


def test_v2_retries_503_with_retry_after_and_never_a_400(receiver: Receiver) -> None:
    base = receiver.url.rsplit("/", 1)[0]
    receiver.plan = [(503, {"Retry-After": "0"}), (204, {}), (400, {})]
    lk = _lookout(InfluxSink(base, bucket="b", org="o", token="t"), batch_interval=0.05)
    lk.emit(make_event("call", "first"))
    assert lk.flush(10)
    lk.emit(make_event("call", "second"))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["influx"]
    lk.close()
    assert (stats["written"], stats["failed"], stats["retried"]) == (1, 1, 1)
    assert len(receiver.requests) == 3


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"database= .* or bucket="):
        InfluxSink()
    with pytest.raises(ValueError, match="needs org= and token="):
        InfluxSink(bucket="b")
    sink = build_sink({"type": "influx", "database": "d", "tags": {"env": "prod"}})
    assert isinstance(sink, InfluxSink)


def test_v2_check_sends_an_empty_write_and_reads_the_answer(receiver: Receiver) -> None:
    base = receiver.url.rsplit("/", 1)[0]
    sink = InfluxSink(base, bucket="b", org="o", token="t")
    receiver.plan = [
        (
            400,
            {"Content-Type": "application/json"},
            b'{"code":"invalid","message":"writing requires points"}',
        ),
        (
            401,
            {"Content-Type": "application/json"},
            b'{"code":"unauthorized","message":"unauthorized access"}',
        ),
    ]
    assert "writable" in sink.check()
    with pytest.raises(Exception, match="401"):
        sink.check()
    assert [request["body"] for request in receiver.requests] == [b"", b""]


def test_server_down_or_too_slow_is_retried_then_counted_failed(receiver: Receiver) -> None:
    import threading

    release = threading.Event()
    slow = receiver.server.RequestHandlerClass
    original = slow.do_POST

    def stall(handler: Any) -> None:
        release.wait(5)
        original(handler)

    slow.do_POST = stall  # type: ignore[method-assign]
    base = receiver.url.rsplit("/", 1)[0]
    lk = _lookout(InfluxSink(base, database="d", timeout=0.2), max_retries=1, retry_backoff=0.01)
    down = _lookout(
        InfluxSink("http://127.0.0.1:1", bucket="b", org="o", token="t", timeout=0.2),
        max_retries=1,
        retry_backoff=0.01,
    )
    lk.emit(make_event("call", "f"))
    down.emit(make_event("call", "f"))
    lk.flush(20)
    down.flush(20)
    release.set()
    for instance, error in ((lk, "Timeout"), (down, "Connection")):
        stats = instance.stats()["sinks"]["influx"]
        instance.close()
        assert (stats["written"], stats["failed"], stats["retried"]) == (0, 1, 1)
        assert error in stats["last_error"]
