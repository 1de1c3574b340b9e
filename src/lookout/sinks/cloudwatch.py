"""The CloudWatch sink: request, call and custom metrics through ``put_metric_data``.

Each batch is aggregated before it is sent: every (metric, dimensions, unit, minute) becomes one
``StatisticSet`` (count, sum, min, max), so a thousand requests to one endpoint cost one datum,
not a thousand. Datums go out in calls of at most ``MAX_DATUMS_PER_CALL``. Credentials come
from boto3's standard chain (environment, config files, instance roles); Lookout never stores
them.

Metrics, in ``namespace`` (default ``Lookout``):

- ``RequestLatency`` (Milliseconds) and ``RequestCount``/``RequestErrors`` (Count) per
  ``Endpoint`` (and ``Method``);
- ``CallLatency``, ``CallCount``, ``CallErrors`` per ``Function``;
- custom metrics from ``lookout.flask.add_metric`` with their own unit and dimensions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from lookout._internal import optional_dependency
from lookout.events import ERROR, Event
from lookout.sinks.base import BaseSink
from lookout.units import CLOUDWATCH_UNITS

with optional_dependency("cloudwatch", "the CloudWatch sink"):
    import boto3

#: PutMetricData accepts up to 1,000 datums per call (and 1 MB); statistic sets are small.
MAX_DATUMS_PER_CALL = 500
MAX_DIMENSIONS = 30

_Key = tuple[str, tuple[tuple[str, str], ...], str, int]


class CloudWatchSink(BaseSink):
    """Publishes aggregated metrics to CloudWatch.

    Args:
        namespace: the CloudWatch namespace.
        dimensions: added to every metric (e.g. ``{"Service": "shop"}``).
        client: a boto3 CloudWatch client; by default one is made from ``region_name`` and
            ``endpoint_url`` with boto3's standard credential chain.
        region_name: AWS region for the default client.
        endpoint_url: another endpoint (a local stand-in, a VPC endpoint).
        storage_resolution: 60 (standard) or 1 (high resolution).
        kinds: which events become metrics: ``request``, ``call`` (latency, count, errors)
            and ``metric`` (custom metrics); each metric costs money in CloudWatch.
    """

    name = "cloudwatch"

    def __init__(
        self,
        namespace: str = "Lookout",
        *,
        dimensions: Mapping[str, str] | None = None,
        client: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        storage_resolution: int = 60,
        kinds: Sequence[str] = ("request", "call", "metric"),
    ) -> None:
        if storage_resolution not in (1, 60):
            raise ValueError("storage_resolution must be 1 or 60")
        self.namespace = namespace
        self.dimensions = {str(k): str(v) for k, v in (dimensions or {}).items()}
        self.storage_resolution = storage_resolution
        self.kinds = frozenset(kinds)
        self._client_options = {"region_name": region_name, "endpoint_url": endpoint_url}
        self.client = client or boto3.client("cloudwatch", **self._client_options)

    def write(self, batch: Sequence[Event]) -> None:
        datums = self.aggregate(batch)
        for start in range(0, len(datums), MAX_DATUMS_PER_CALL):
            self.client.put_metric_data(
                Namespace=self.namespace, MetricData=datums[start : start + MAX_DATUMS_PER_CALL]
            )

    def aggregate(self, batch: Sequence[Event]) -> list[dict[str, Any]]:
        """The batch as statistic-set datums, one per metric, dimensions, unit and minute."""
        stats: dict[_Key, list[float]] = {}

        def add(metric: str, dims: Mapping[str, str], unit: str, minute: int, value: float) -> None:
            merged = {  # CloudWatch's bounds: names up to 255, values 1 to 1024 characters
                name[:255]: value[:1024] or "-"
                for name, value in {**self.dimensions, **dims}.items()
            }
            key = (metric, tuple(sorted(merged.items()))[:MAX_DIMENSIONS], unit, minute)
            entry = stats.get(key)
            if entry is None:
                stats[key] = [1.0, value, value, value]
            else:
                entry[0] += 1
                entry[1] += value
                entry[2] = min(entry[2], value)
                entry[3] = max(entry[3], value)

        for event in batch:
            if event.kind not in self.kinds:
                continue
            minute = event.start_ns // 60_000_000_000
            failed = 1.0 if event.outcome == ERROR else 0.0
            if event.kind == "request":
                dims = {"Endpoint": event.name, "Method": str(event.tags.get("method", ""))}
                add("RequestLatency", dims, "Milliseconds", minute, event.duration_ns / 1e6)
                add("RequestErrors", dims, "Count", minute, failed)
            elif event.kind == "call":
                dims = {"Function": event.name}
                add("CallLatency", dims, "Milliseconds", minute, event.duration_ns / 1e6)
                add("CallErrors", dims, "Count", minute, failed)
            elif event.kind == "metric" and isinstance(event.fields.get("value"), (int, float)):
                unit = str(event.fields.get("unit", "None"))
                if unit not in CLOUDWATCH_UNITS:  # CloudWatch would refuse the whole call
                    unit = "None"
                add(event.name, dict(event.tags), unit, minute, float(event.fields["value"]))  # type: ignore[arg-type]
        datums = []
        for (metric, pairs, unit, minute), (count, total, low, high) in stats.items():
            if metric in ("RequestErrors", "CallErrors"):
                datums.append(
                    self._datum(
                        metric.replace("Errors", "Count"),
                        pairs,
                        "Count",
                        minute,
                        count,
                        count,
                        1.0,
                        1.0,
                    )
                )
            datums.append(self._datum(metric, pairs, unit, minute, count, total, low, high))
        return datums

    def _datum(
        self,
        metric: str,
        dims: tuple[tuple[str, str], ...],
        unit: str,
        minute: int,
        count: float,
        total: float,
        low: float,
        high: float,
    ) -> dict[str, Any]:
        return {
            "MetricName": metric,
            "Dimensions": [{"Name": name, "Value": value} for name, value in dims],
            "Timestamp": dt.datetime.fromtimestamp(minute * 60, dt.timezone.utc),
            "StatisticValues": {
                "SampleCount": count,
                "Sum": total,
                "Minimum": low,
                "Maximum": high,
            },
            "Unit": unit,
            "StorageResolution": self.storage_resolution,
        }

    def after_fork(self) -> None:
        self.client = boto3.client("cloudwatch", **self._client_options)

    def check(self) -> str:
        self.client.list_metrics(Namespace=self.namespace)
        return f"namespace {self.namespace!r}: reachable and authenticated (list_metrics)"
