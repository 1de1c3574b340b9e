"""The OpenTelemetry sink: requests and calls as OTLP spans and metrics, over OTLP/HTTP.

Each batch becomes spans with the current semantic conventions (``http.request.method``,
``http.route``, ``http.response.status_code``, ``url.path``, ``server.address``,
``code.function.name``; exceptions as span events) and resource attributes ``service.name``,
``service.version`` and ``host.name``, exported in one OTLP request through
``opentelemetry-exporter-otlp-proto-http``. Spans are built in this sink's worker thread, with
the events' own start and end times. Request durations also feed the
``http.server.request.duration`` histogram (seconds; method, route, status), which the SDK's
periodic reader exports to the metrics endpoint every ``metrics_interval`` and at close.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from lookout._internal import optional_dependency
from lookout.events import ERROR, HOSTNAME, Event
from lookout.sinks.base import BaseSink

with optional_dependency("otel", "the OpenTelemetry sink"):
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.trace import SpanKind, Status, StatusCode


class _Collect(SpanProcessor):
    """Keeps ended spans so the sink exports a whole batch in one request."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


class OtlpSink(BaseSink):
    """Exports request and call events as spans.

    Args:
        endpoint: the collector's traces URL (default ``http://127.0.0.1:4318/v1/traces``).
        service_name: ``service.name`` (default ``lookout``).
        headers: sent with every export (e.g. an API key).
        timeout: seconds per export.
        resource_attributes: more resource attributes.
        metrics_endpoint: the collector's metrics URL (default: ``endpoint`` with
            ``/v1/metrics`` for ``/v1/traces``); None or "" with ``metrics=False`` for none.
        metrics: export the ``http.server.request.duration`` histogram too.
        metrics_interval: seconds between two metric exports.
    """

    name = "otlp"

    def __init__(
        self,
        endpoint: str = "http://127.0.0.1:4318/v1/traces",
        *,
        service_name: str = "lookout",
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        resource_attributes: Mapping[str, Any] | None = None,
        metrics_endpoint: str | None = None,
        metrics: bool = True,
        metrics_interval: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self.service_name = service_name
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.resource_attributes = dict(resource_attributes or {})
        self._lock = threading.Lock()
        self._providers: dict[str | None, tuple[TracerProvider, _Collect]] = {}
        self._exporter = self._new_exporter()
        self.metrics_endpoint = metrics_endpoint or endpoint.replace("/v1/traces", "/v1/metrics")
        self.metrics_interval = metrics_interval
        self._meters: MeterProvider | None = None
        self._duration: Any = None
        if metrics:
            self._start_metrics()

    def _start_metrics(self) -> None:
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(
                endpoint=self.metrics_endpoint, headers=self.headers, timeout=self.timeout
            ),
            export_interval_millis=self.metrics_interval * 1000,
        )
        resource = Resource.create(
            {"service.name": self.service_name, "host.name": HOSTNAME, **self.resource_attributes}
        )
        self._meters = MeterProvider(resource=resource, metric_readers=[reader])
        self._duration = self._meters.get_meter("lookout").create_histogram(
            "http.server.request.duration", unit="s", description="Duration of HTTP requests."
        )

    def _new_exporter(self) -> OTLPSpanExporter:
        return OTLPSpanExporter(endpoint=self.endpoint, headers=self.headers, timeout=self.timeout)

    def _provider(self, version: str | None) -> tuple[TracerProvider, _Collect]:
        """One tracer provider per app version: the version is a resource attribute."""
        found = self._providers.get(version)
        if found is None:
            attributes = {
                "service.name": self.service_name,
                "host.name": HOSTNAME,
                **self.resource_attributes,
            }
            if version:
                attributes["service.version"] = version
            provider = TracerProvider(resource=Resource.create(attributes))
            collect = _Collect()
            provider.add_span_processor(collect)
            found = self._providers[version] = (provider, collect)
        return found

    def write(self, batch: Sequence[Event]) -> None:
        with self._lock:
            spans: list[ReadableSpan] = []
            for event in batch:
                if event.kind in ("request", "call"):
                    self._span(event)
            for _, collect in self._providers.values():
                spans.extend(collect.spans)
                collect.spans.clear()
            if not spans:
                return
            result = self._exporter.export(spans)
            if result is not SpanExportResult.SUCCESS:
                raise ConnectionError(
                    f"OTLP export of {len(spans)} spans to {self.endpoint} failed"
                )

    def _span(self, event: Event) -> None:
        provider, _ = self._provider(event.app_version)
        tracer = provider.get_tracer("lookout")
        fields = event.fields
        if event.kind == "request":
            method = str(event.tags.get("method") or fields.get("method") or "GET")
            route = fields.get("rule")
            attributes: dict[str, Any] = {"http.request.method": method}
            if route:
                attributes["http.route"] = route
            if event.status is not None:
                attributes["http.response.status_code"] = event.status
            if fields.get("path"):
                attributes["url.path"] = fields["path"]
            attributes["server.address"] = event.host
            if event.client_ip:
                attributes["client.address"] = event.client_ip
            name, kind = f"{method} {route or event.name}", SpanKind.SERVER
            if self._duration is not None:
                self._duration.record(
                    event.duration_ns / 1e9,
                    {
                        "http.request.method": method,
                        "http.route": str(route or event.name),
                        "http.response.status_code": event.status or 0,
                    },
                )
        else:
            attributes = {"code.function.name": event.name}
            name, kind = event.name, SpanKind.INTERNAL
        if event.request_id:
            attributes["lookout.request_id"] = event.request_id
        span = tracer.start_span(name, kind=kind, start_time=event.start_ns, attributes=attributes)
        if event.outcome == ERROR:
            span.set_status(Status(StatusCode.ERROR, event.error_message or None))
            if event.error_type:
                span.add_event(
                    "exception",
                    {
                        "exception.type": event.error_type,
                        "exception.message": event.error_message or "",
                        "exception.stacktrace": event.traceback or "",
                    },
                    timestamp=event.start_ns + event.duration_ns,
                )
        span.end(end_time=event.start_ns + event.duration_ns)

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._exporter = self._new_exporter()
        if self._meters is not None:  # the reader's thread did not survive the fork
            self._start_metrics()

    def close(self) -> None:
        self._exporter.shutdown()  # type: ignore[no-untyped-call]
        if self._meters is not None:
            self._meters.shutdown()  # exports what was recorded since the last interval

    def check(self) -> str:
        return f"spans to {self.endpoint} (OTLP/HTTP protobuf); checked on first export"
