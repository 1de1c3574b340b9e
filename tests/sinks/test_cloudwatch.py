"""The CloudWatch sink against moto's CloudWatch server on 127.0.0.1, read back with boto3."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from flask import Flask

from lookout import Lookout
from lookout.flask import LookoutFlask, add_metric
from lookout.sinks.cloudwatch import CloudWatchSink


@pytest.fixture
def endpoint(cloudwatch_endpoint: str) -> str:
    return cloudwatch_endpoint


def _statistics(client: object, metric: str, dimensions: dict[str, str]) -> dict[str, float]:
    now = dt.datetime.now(dt.timezone.utc)
    answer = client.get_metric_statistics(  # type: ignore[attr-defined]
        Namespace="Shop",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=5),
        Period=60,
        Statistics=["SampleCount", "Sum", "Maximum"],
    )
    points = answer["Datapoints"]
    return {
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Sum": sum(p["Sum"] for p in points),
        "Maximum": max((p["Maximum"] for p in points), default=0.0),
    }


def test_requests_calls_and_custom_metrics_reach_cloudwatch(endpoint: str) -> None:
    sink = CloudWatchSink("Shop", endpoint_url=endpoint, dimensions={"Service": "shop"})
    calls: list[int] = []
    original = sink.client.put_metric_data

    def counting(**kwargs: object) -> object:
        calls.append(len(kwargs["MetricData"]))  # type: ignore[arg-type]
        return original(**kwargs)

    sink.client.put_metric_data = counting
    # One batch (flush() sends it), so the statistic sets can be counted.
    lk = Lookout(store=None, sinks=[sink], batch_interval=30, batch_size=5000)
    app = Flask("cw")
    LookoutFlask(app, lk)

    @app.get("/cart")
    def cart() -> str:
        add_metric("CartValue", 20, "Count", [{"Name": "Currency", "Value": "EUR"}])
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("x")

    work = lk.monitor(name="jobs.import")(lambda: None)
    client = app.test_client()
    for _ in range(40):
        client.get("/cart")
    client.get("/boom")
    work()
    assert lk.flush(30)
    stats = lk.stats()["sinks"]["cloudwatch"]
    lk.close()
    assert stats["written"] == 82 and stats["failed"] == 0
    assert sum(calls) <= 12  # 82 events became a handful of statistic sets
    reader = boto3.client("cloudwatch", endpoint_url=endpoint)
    cart_dims = {"Endpoint": "cart", "Method": "GET", "Service": "shop"}
    assert _statistics(reader, "RequestCount", cart_dims)["Sum"] == 40
    assert _statistics(reader, "RequestLatency", cart_dims)["SampleCount"] == 40
    boom_dims = {"Endpoint": "boom", "Method": "GET", "Service": "shop"}
    assert _statistics(reader, "RequestErrors", boom_dims)["Sum"] == 1
    value = _statistics(reader, "CartValue", {"Currency": "EUR", "Service": "shop"})
    assert (value["SampleCount"], value["Sum"]) == (40, 800)
    call = _statistics(reader, "CallCount", {"Function": "jobs.import", "Service": "shop"})
    assert call["Sum"] == 1
    listed = reader.list_metrics(Namespace="Shop")["Metrics"]
    assert {"RequestLatency", "RequestCount", "RequestErrors", "CartValue", "CallLatency"} <= {
        metric["MetricName"] for metric in listed
    }
    assert "reachable" in CloudWatchSink("Shop", endpoint_url=endpoint).check()


def test_large_batches_are_split_within_the_api_limit(endpoint: str) -> None:
    from lookout import make_event

    sink = CloudWatchSink("Shop", endpoint_url=endpoint)
    events = [make_event("call", f"f{n}", duration_ns=10**6) for n in range(700)]
    datums = sink.aggregate(events)
    assert len(datums) == 2100  # latency, count and errors for 700 functions
    sizes: list[int] = []
    original = sink.client.put_metric_data
    sink.client.put_metric_data = lambda **kw: sizes.append(len(kw["MetricData"])) or original(**kw)
    sink.write(events)
    assert sizes == [500, 500, 500, 500, 100]
