"""flask-cloudwatch-metric's ``CloudWatchMetricsReporter``, on Lookout.

    from lookout.compat.cloudwatch import CloudWatchMetricsReporter

Metrics added during a request are buffered in the request and published after it, as in the
original; Lookout then aggregates them per batch into statistic sets, so a thousand requests
cost one ``PutMetricData`` datum per metric and minute instead of a thousand calls, made by a
background worker with retries instead of in the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask

from lookout.core import Lookout
from lookout.flask import LookoutFlask
from lookout.flask import add_metric as _add_metric
from lookout.sinks.cloudwatch import CloudWatchSink


class CloudWatchMetricsReporter:
    """Publishes the metrics each request adds to CloudWatch.

    Args:
        app: the Flask app (or None, then ``init_app``).
        namespace: the CloudWatch namespace.
        client: a boto3 CloudWatch client; by default boto3's standard chain.
        region_name: AWS region for the default client.
        endpoint_url: another CloudWatch endpoint.
        lookout: record through this Lookout (its sinks and store) instead of a new one that
            only publishes to CloudWatch.
    """

    def __init__(
        self,
        app: Flask | None = None,
        namespace: str = "FlaskApp",
        *,
        client: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        lookout: Lookout | None = None,
    ) -> None:
        sink = CloudWatchSink(  # only the metrics you add, as the original published
            namespace,
            client=client,
            region_name=region_name,
            endpoint_url=endpoint_url,
            kinds=("metric",),
        )
        self.lookout = lookout or Lookout(store=None, sinks=[sink])
        self.extension = LookoutFlask(lookout=self.lookout, dashboard_url=None)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        self.extension.init_app(app)

    def add_metric(
        self,
        metric_name: str,
        value: float,
        unit: str = "None",
        dimensions: Sequence[Mapping[str, str]] | None = None,
    ) -> None:
        """Buffer a metric in the current request (``dimensions`` as ``[{"Name", "Value"}]``)."""
        _add_metric(metric_name, value, unit, list(dimensions or []))
