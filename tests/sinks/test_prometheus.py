from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry, generate_latest

from lookout import Lookout
from lookout.flask import LookoutFlask
from lookout.sinks.prometheus import PrometheusSink, register_health


def test_requests_and_calls_become_histograms_with_bounded_labels() -> None:
    registry = CollectorRegistry()
    lk = Lookout(store=None, sinks=[PrometheusSink(registry)], batch_interval=0.01)
    register_health(lk, registry)
    app = Flask("prom")
    LookoutFlask(app, lk)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        return str(item_id)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("x")

    work = lk.monitor(name="jobs.work")(lambda: 1)
    client = app.test_client()
    for n in range(3):
        client.get(f"/items/{n}")
    client.get("/boom")
    client.get("/no/such/page/123")
    work()
    assert lk.flush(10)
    text = generate_latest(registry).decode()
    lk.close()
    assert (
        'lookout_http_request_duration_seconds_count{method="GET",route="item",status="200"} 3.0'
        in text
    )
    assert 'route="[unmatched]",status="404"' in text
    assert "/items/1" not in text and "/no/such/page" not in text  # never the raw path
    assert 'lookout_http_request_errors_total{method="GET",route="boom"} 1.0' in text
    assert 'lookout_function_call_duration_seconds_count{function="jobs.work"} 1.0' in text
    assert 'lookout_events_written_total{sink="prometheus"}' in text
    assert "lookout_events_dropped_at_capture_total 0.0" in text


def test_flask_serves_metrics_url_without_recording_it() -> None:
    registry = CollectorRegistry()
    lk = Lookout(store=None, sinks=[PrometheusSink(registry)], batch_interval=0.01)
    app = Flask("served-metrics")
    LookoutFlask(app, lk, metrics_url="/metrics", metrics_registry=registry)

    @app.get("/")
    def index() -> str:
        return "hi"

    client = app.test_client()
    client.get("/")
    assert lk.flush(10)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    body = response.data.decode()
    assert 'route="index"' in body
    assert lk.flush(10)
    assert 'route="lookout_metrics"' not in generate_latest(registry).decode()
    lk.close()
