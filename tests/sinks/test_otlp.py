"""The OpenTelemetry sink against a local OTLP/HTTP receiver that decodes the protobuf."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lookout import Lookout
from lookout.flask import LookoutFlask
from lookout.sinks.otlp import OtlpSink


class OtlpReceiver:
    def __init__(self) -> None:
        self.exports: list[ExportTraceServiceRequest] = []
        self.metric_exports: list[ExportMetricsServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/metrics":
                    metrics = ExportMetricsServiceRequest()
                    metrics.ParseFromString(body)
                    receiver.metric_exports.append(metrics)
                else:
                    message = ExportTraceServiceRequest()
                    message.ParseFromString(body)
                    receiver.exports.append(message)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        found = []
        for export in self.exports:
            for resource_spans in export.resource_spans:
                resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    found.extend((resource, span) for span in scope.spans)
        return found


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value"))


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_requests_and_calls_arrive_as_spans_with_semantic_conventions(
    receiver: OtlpReceiver,
) -> None:
    lk = Lookout(
        store=None,
        sinks=[OtlpSink(receiver.url, service_name="shop")],
        batch_interval=0.01,
        app_version="2.1",
    )
    app = Flask("otel")
    LookoutFlask(app, lk)

    @lk.monitor(name="payments.charge")
    def charge() -> None:
        raise ValueError("declined")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        return str(item_id)

    @app.post("/pay")
    def pay() -> str:
        charge()
        return "paid"

    client = app.test_client()
    client.get("/items/7", headers={"X-Request-ID": "req-1"})
    client.post("/pay")
    assert lk.flush(10)
    lk.close()
    spans = {span.name: (resource, span) for resource, span in receiver.spans()}
    assert set(spans) == {"GET /items/<int:item_id>", "POST /pay", "payments.charge"}
    resource, get = spans["GET /items/<int:item_id>"]
    assert resource["service.name"] == "shop" and resource["service.version"] == "2.1"
    assert resource["host.name"]
    attributes = {kv.key: _value(kv.value) for kv in get.attributes}
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == "/items/<int:item_id>"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/items/7"
    assert attributes["lookout.request_id"] == "req-1"
    assert get.kind == get.SPAN_KIND_SERVER
    assert get.end_time_unix_nano > get.start_time_unix_nano > 1_600_000_000 * 10**9
    _, failed_call = spans["payments.charge"]
    call_attributes = {kv.key: _value(kv.value) for kv in failed_call.attributes}
    assert call_attributes["code.function.name"] == "payments.charge"
    assert failed_call.status.code == failed_call.status.STATUS_CODE_ERROR
    [exception] = failed_call.events
    exception_attributes = {kv.key: _value(kv.value) for kv in exception.attributes}
    assert exception.name == "exception"
    assert exception_attributes["exception.type"] == "ValueError"
    assert exception_attributes["exception.message"] == "declined"
    histograms = [
        metric
        for export in receiver.metric_exports
        for resource_metrics in export.resource_metrics
        for scope in resource_metrics.scope_metrics
        for metric in scope.metrics
        if metric.name == "http.server.request.duration"
    ]
    assert histograms, "the duration histogram was not exported at close"
    points = [point for metric in histograms for point in metric.histogram.data_points]
    routes = {
        {kv.key: _value(kv.value) for kv in point.attributes}["http.route"]: point.count
        for point in points
    }
    assert routes == {"/items/<int:item_id>": 1, "/pay": 1}
    assert histograms[0].unit == "s"
    _, pay_span = spans["POST /pay"]
    assert {kv.key: _value(kv.value) for kv in pay_span.attributes}[
        "http.response.status_code"
    ] == 500


def test_unreachable_collector_is_retried_then_counted() -> None:
    lk = Lookout(
        store=None,
        sinks=[OtlpSink("http://127.0.0.1:1/v1/traces", timeout=1)],
        batch_interval=0.01,
        max_retries=1,
        retry_backoff=0.01,
    )
    lk.monitor(name="f")(lambda: None)()
    assert lk.flush(60)
    stats = lk.stats()["sinks"]["otlp"]
    lk.close(5)
    assert (stats["written"], stats["failed"]) == (0, 1)
