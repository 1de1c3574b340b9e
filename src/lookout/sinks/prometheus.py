"""Prometheus metrics from events, and Lookout's own health counters.

The sink turns events into ``prometheus_client`` histograms and counters in its worker thread,
so scraping never touches the request path. Labels are bounded: a request is labelled by its
method, its endpoint (never the raw path; every unmatched URL shares ``[unmatched]``) and its
status; a call by its function name.

Expose them with ``prometheus_client.start_http_server(port)``, or let ``LookoutFlask`` serve
``/metrics`` (``metrics_url``). Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` before start:
``prometheus_client`` then keeps per-process files that ``/metrics`` merges.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from lookout._internal import optional_dependency
from lookout.events import ERROR, Event
from lookout.sinks.base import BaseSink

with optional_dependency("prometheus", "the Prometheus sink"):
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from lookout.core import Lookout

#: Seconds; from 1 ms to 10 s, the range where web requests and function calls live.
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusSink(BaseSink):
    """Feeds request and call durations and errors into Prometheus metrics.

    Args:
        registry: where the metrics live (default: prometheus_client's global registry).
        buckets: histogram buckets in seconds.
    """

    name = "prometheus"

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self.registry = registry if registry is not None else REGISTRY
        self.request_duration = Histogram(
            "lookout_http_request_duration_seconds",
            "Duration of HTTP requests.",
            ["method", "route", "status"],
            buckets=buckets,
            registry=self.registry,
        )
        self.request_errors = Counter(
            "lookout_http_request_errors",
            "HTTP requests that failed (5xx or an exception).",
            ["method", "route"],
            registry=self.registry,
        )
        self.call_duration = Histogram(
            "lookout_function_call_duration_seconds",
            "Duration of monitored function calls.",
            ["function"],
            buckets=buckets,
            registry=self.registry,
        )
        self.call_errors = Counter(
            "lookout_function_call_errors",
            "Monitored function calls that raised.",
            ["function"],
            registry=self.registry,
        )

    def write(self, batch: Sequence[Event]) -> None:
        for event in batch:
            seconds = event.duration_ns / 1e9
            if event.kind == "request":
                method = event.tags.get("method", "")
                self.request_duration.labels(method, event.name, str(event.status or "")).observe(
                    seconds
                )
                if event.outcome == ERROR:
                    self.request_errors.labels(method, event.name).inc()
            elif event.kind == "call":
                self.call_duration.labels(event.name).observe(seconds)
                if event.outcome == ERROR:
                    self.call_errors.labels(event.name).inc()

    def check(self) -> str:
        return "metrics kept in process, exposed where prometheus_client serves them"


class HealthCollector(Collector):
    """Lookout's own counters at scrape time: events dropped, failed, written, queue depths.

    Args:
        lookout: whose counters.
        labels: constant labels on every series, e.g. ``{"pid": "123"}`` where several
            processes answer scrapes (gunicorn's multiprocess mode), so that each process's
            counters stay one series of their own.
    """

    def __init__(self, lookout: Lookout, labels: dict[str, str] | None = None) -> None:
        self.lookout = lookout
        self.labels = dict(labels or {})

    def collect(self) -> Iterator[Metric]:
        stats = self.lookout.stats()
        names, values = list(self.labels), list(self.labels.values())
        per_sink: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "written": CounterMetricFamily(
                "lookout_events_written", "Events written, per sink.", labels=["sink", *names]
            ),
            "dropped": CounterMetricFamily(
                "lookout_events_dropped",
                "Events dropped by a full sink queue.",
                labels=["sink", *names],
            ),
            "failed": CounterMetricFamily(
                "lookout_events_failed", "Events given up after retries.", labels=["sink", *names]
            ),
            "invalid": CounterMetricFamily(
                "lookout_events_invalid",
                "Events a sink refused for their data (found by splitting the batch).",
                labels=["sink", *names],
            ),
            "queue_depth": GaugeMetricFamily(
                "lookout_sink_queue_depth", "Events waiting for a sink.", labels=["sink", *names]
            ),
        }
        spool_families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "depth": GaugeMetricFamily(
                "lookout_spool_depth", "Events in a sink's disk spool.", labels=["sink", *names]
            ),
            "bytes": GaugeMetricFamily(
                "lookout_spool_bytes", "Bytes of a sink's disk spool.", labels=["sink", *names]
            ),
            "replayed": CounterMetricFamily(
                "lookout_spool_replayed",
                "Events written from a sink's disk spool.",
                labels=["sink", *names],
            ),
            "overflow": CounterMetricFamily(
                "lookout_spool_overflow",
                "Events a full spool could not keep.",
                labels=["sink", *names],
            ),
        }
        for sink, counters in stats["sinks"].items():
            for key, family in per_sink.items():
                family.add_metric([sink, *values], counters.get(key, 0))
            spool = counters.get("spool")
            if spool:
                for key, family in spool_families.items():
                    family.add_metric([sink, *values], spool[key])
        yield from per_sink.values()
        yield from spool_families.values()
        dropped = CounterMetricFamily(
            "lookout_events_dropped_at_capture",
            "Events dropped by a full ingress queue.",
            labels=names,
        )
        dropped.add_metric(values, stats["dropped"])
        yield dropped
        depth = GaugeMetricFamily(
            "lookout_queue_depth", "Events captured, not yet dispatched.", labels=names
        )
        depth.add_metric(values, stats["queue_depth"])
        yield depth


def register_health(lookout: Lookout, registry: CollectorRegistry | None = None) -> HealthCollector:
    """Expose ``lookout``'s own counters on ``registry`` (default: the global one)."""
    collector = HealthCollector(lookout)
    (registry if registry is not None else REGISTRY).register(collector)
    return collector
