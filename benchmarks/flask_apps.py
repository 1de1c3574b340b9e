"""The hello-world app of ``flask_overhead.py``, bare or instrumented by one tool.

``create(variant)`` is an application factory, so gunicorn can start it:
``gunicorn 'flask_apps:create("lookout")'``. Each tool is set up as its documentation says,
with any exporter pointed at nothing (no network traffic).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from flask import Flask, g

VARIANTS = (
    "bare",
    "lookout",
    "lookout store-process",
    "lookout+g",
    "lookout level 3",
    "lookout outliers",
    "flask-monitoringdashboard",
    "prometheus-flask-exporter",
    "opentelemetry",
    "sentry",
)


def _folder() -> str:
    return os.environ.get("FLASK_BENCH_DIR") or tempfile.mkdtemp(prefix="flask-bench-")


def pin_timers() -> None:
    """For instruction counts: whatever Lookout does on a timer happens only when a batch is
    full or at the final flush, never on a clock (under valgrind's slowdown, timers would
    write many small batches that a real run at full speed does not)."""
    import lookout.flask.extension
    import lookout.recorder

    lookout.recorder.DISPATCH_POLL_SECONDS = 1e6
    lookout.flask.extension.DEFAULTS["level_refresh_interval"] = 1e6
    os.environ["LOOKOUT_BATCH_INTERVAL"] = "1000000"


def create(variant: str = "bare", pinned: bool = False) -> Flask:
    if pinned:
        pin_timers()
    app = Flask(f"bench-{variant}")

    @app.get("/")
    def hello() -> str:
        g.user_id = 42
        return "Hello, World!"

    instrument(app, variant)
    return app


def instrument(app: Flask, variant: str) -> Any:
    folder = _folder()
    if variant == "bare":
        return None
    if variant.startswith("lookout"):
        from lookout import Lookout
        from lookout.flask import LookoutFlask

        lk = Lookout(
            store=f"sqlite:///{folder}/lookout.db",
            queue_size=2_000_000,
            sink_queue_size=2_000_000,
            store_process=variant == "lookout store-process",  # written by a helper process
        )
        if variant in ("lookout", "lookout store-process"):
            return LookoutFlask(app, lk)
        if variant == "lookout level 3":  # the sampling profiler on every request
            return LookoutFlask(app, lk, default_level=3)
        if variant == "lookout outliers":  # level 2, every request an outlier
            extension = LookoutFlask(app, lk, default_level=2)
            levels = app.extensions["lookout"].levels
            levels.refresh = lambda: None  # type: ignore[method-assign] # no timed store reads
            levels.thresholds_ns = {"hello": -1}  # every request is past its threshold
            return extension
        return LookoutFlask(app, lk, track_g=["user_id"], group_by=lambda: g.get("user_id"))
    if variant == "flask-monitoringdashboard":
        import flask_monitoringdashboard as dashboard

        dashboard.config.database_name = f"sqlite:///{folder}/fmd.db"
        dashboard.bind(app)
        return dashboard
    if variant == "prometheus-flask-exporter":
        from prometheus_client import CollectorRegistry
        from prometheus_flask_exporter import PrometheusMetrics

        return PrometheusMetrics(app, registry=CollectorRegistry())
    if variant == "opentelemetry":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Discard(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Discard()))
        FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
        return provider
    if variant == "sentry":
        import sentry_sdk
        from sentry_sdk.integrations.flask import FlaskIntegration
        from sentry_sdk.transport import Transport

        class Discard(Transport):
            def capture_envelope(self, envelope: Any) -> None:
                pass

        sentry_sdk.init(
            dsn="http://public@127.0.0.1:9/1",
            traces_sample_rate=1.0,
            transport=Discard,
            integrations=[FlaskIntegration()],
        )
        return sentry_sdk
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
