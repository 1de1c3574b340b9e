"""flask-cloudwatch-metric's ``CloudWatchMetricsReporter`` and decorators, on Lookout.

    from lookout.compat.cloudwatch import (
        CloudWatchMetricsReporter, fault_failure_error, request_count)

Metrics added during a request are buffered in the request and published after it, as in the
original (0.1.5 to 0.1.7: the constructor's ``namespace``, ``aws_region_name``,
``aws_access_key_id`` and ``aws_secret_access_key``, the static ``add_metric``, and the
``request_count`` and ``fault_failure_error`` decorators). ``add_metric`` in an application
context but outside a request does nothing, as the original's (its buffer exists only in a
request); outside any application context it raises ``RuntimeError``, as the original's ``g``
does. Lookout then aggregates them per batch into statistic sets, so a thousand requests cost
one ``PutMetricData`` datum per metric and minute instead of a thousand calls, made by a
background worker with retries instead of in the request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from flask import Flask, has_app_context, has_request_context

from lookout.compat import compat_lookout
from lookout.core import Lookout
from lookout.flask import LookoutFlask
from lookout.flask import add_metric as _add_metric
from lookout.sinks.cloudwatch import CloudWatchSink

F = TypeVar("F", bound=Callable[..., Any])
__all__ = ["CloudWatchMetricsReporter", "fault_failure_error", "request_count"]


class CloudWatchMetricsReporter:
    """Publishes the metrics each request adds to CloudWatch.

    Args:
        app: the Flask app (or None, then ``init_app``).
        namespace: the CloudWatch namespace (the README's example gives none: ``FlaskApp``).
        aws_region_name: the region (0.1.7's third argument); ``region_name`` is the same.
        aws_access_key_id, aws_secret_access_key: credentials, when both are given (as the
            original); otherwise boto3's standard chain.
        client: a boto3 CloudWatch client of your own.
        endpoint_url: another CloudWatch endpoint.
        lookout: record through this Lookout (its sinks and store) instead of a new one that
            only publishes to CloudWatch.
    """

    def __init__(
        self,
        app: Flask | None = None,
        namespace: str = "FlaskApp",
        aws_region_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        *,
        client: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        lookout: Lookout | None = None,
    ) -> None:
        region = aws_region_name or region_name
        if client is None and aws_access_key_id and aws_secret_access_key:
            import boto3

            client = boto3.client(
                "cloudwatch",
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                region_name=region,
                endpoint_url=endpoint_url,
            )
        self.namespace = namespace
        sink = CloudWatchSink(  # only the metrics you add, as the original published
            namespace,
            client=client,
            region_name=region,
            endpoint_url=endpoint_url,
            kinds=("metric",),
        )
        self.cloudwatch_client = sink.client
        self.lookout = lookout or compat_lookout(sinks=[sink])
        self.extension = LookoutFlask(lookout=self.lookout, dashboard_url=None)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        self.extension.init_app(app)

    @staticmethod
    def add_metric(
        metric_name: str,
        value: float,
        unit: str = "None",
        dimensions: Sequence[Mapping[str, str]] | None = None,
    ) -> None:
        """Buffer a metric in the current request (``dimensions`` as ``[{"Name", "Value"}]``);
        nothing happens in an application context outside a request, as in the original."""
        if not has_request_context() and has_app_context():
            return
        _add_metric(metric_name, value, unit, list(dimensions or []))


def _dimension(name: str, value: str) -> dict[str, str]:
    return {"Name": name, "Value": value}


def _status_code(response: Any) -> int:
    """The original's reading of a view's result: ``(body, status, ...)``, else 200."""
    if type(response) is tuple and len(response) > 1 and type(response[1]) is int:
        return response[1]
    return 200


def request_count(
    metrics_reporter: CloudWatchMetricsReporter, resource_name: str
) -> Callable[[F], F]:
    """flask-cloudwatch-metric's decorator: ``RequestCount`` (Count, 1) per call, with
    dimensions ``ResourceName`` and ``StatusCode`` (from a ``(body, status)`` result)."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            response = function(*args, **kwargs)
            metrics_reporter.add_metric(
                metric_name="RequestCount",
                dimensions=[
                    _dimension("ResourceName", resource_name),
                    _dimension("StatusCode", str(_status_code(response))),
                ],
                unit="Count",
                value=1,
            )
            return response

        return wrapper  # type: ignore[return-value]

    return decorate


def fault_failure_error(
    metrics_reporter: CloudWatchMetricsReporter, resource_name: str
) -> Callable[[F], F]:
    """flask-cloudwatch-metric 0.1.7's decorator: ``Failure`` when the view raises, ``Error``
    for a 4xx status, ``Fault`` for a 5xx (Count, 1, dimension ``ResourceName``)."""

    def emit(name: str) -> None:
        metrics_reporter.add_metric(
            metric_name=name,
            dimensions=[_dimension("ResourceName", resource_name)],
            unit="Count",
            value=1,
        )

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                response = function(*args, **kwargs)
            except Exception:
                emit("Failure")
                raise
            status = _status_code(response)
            if 400 <= status < 600:
                emit("Error" if status < 500 else "Fault")
            return response

        return wrapper  # type: ignore[return-value]

    return decorate
