"""What LookoutFlask serves on the app besides recording it: the dashboard and Prometheus
metrics, both left out of the recorded endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, Response

from lookout._internal import optional_dependency
from lookout.flask.options import AppConfig

if TYPE_CHECKING:
    from lookout.core import Lookout


def mount_dashboard(
    app: Flask, resolved: dict[str, Any], config: AppConfig, lookout: Lookout
) -> None:
    """Serve the dashboard (not itself recorded) over this Lookout's store."""
    from lookout.dashboard import BLUEPRINT_NAME, DashboardOptions, create_blueprint

    options = DashboardOptions(
        admin_user=resolved["dashboard_admin_user"],
        admin_password=resolved["dashboard_admin_password"],
        guest_user=resolved["dashboard_guest_user"],
        guest_passwords=tuple(resolved["dashboard_guest_passwords"] or ()),
        auth=bool(resolved["dashboard_auth"]),
        colors=dict(resolved["dashboard_colors"] or {}),
        secure_cookies=bool(resolved["dashboard_secure_cookies"]),
        trusted_proxies=config.trusted_proxies,
        max_body_bytes=int(resolved["dashboard_max_body_bytes"]),
        stats=lookout.stats,
        apdex_threshold_ms=lookout.settings.apdex_threshold * 1000,
        apdex_thresholds_ms={k: v * 1000 for k, v in lookout.settings.apdex_thresholds},
        alerts=lambda: None if lookout.alerts is None else lookout.alerts.describe(),
    )
    app.register_blueprint(
        create_blueprint(lambda: lookout.store, options),
        url_prefix=resolved["dashboard_url"].rstrip("/"),
    )
    config.exclude_endpoints = config.exclude_endpoints | {
        endpoint for endpoint in app.view_functions if endpoint.startswith(BLUEPRINT_NAME + ".")
    }


METRICS_ENDPOINT = "lookout_metrics"


def mount_metrics(app: Flask, url: str, registry: Any, config: AppConfig, lookout: Lookout) -> None:
    """Serve Prometheus metrics at ``url`` (not itself recorded).

    With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn), the metrics of every worker are merged;
    Lookout's own health counters cannot be (they live in each worker's memory), so the
    answering worker adds its own, labelled with its pid.
    """
    import os

    with optional_dependency("prometheus", "metrics_url"):
        from prometheus_client import (
            CONTENT_TYPE_LATEST,
            REGISTRY,
            CollectorRegistry,
            generate_latest,
        )
        from prometheus_client.multiprocess import MultiProcessCollector

        from lookout.sinks.prometheus import HealthCollector

    def metrics() -> Response:
        source = registry if registry is not None else REGISTRY
        if registry is None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            source = CollectorRegistry()
            MultiProcessCollector(source)  # type: ignore[no-untyped-call]
            source.register(HealthCollector(lookout, {"pid": str(os.getpid())}))
        return Response(generate_latest(source), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule(url, METRICS_ENDPOINT, metrics)
    config.exclude_endpoints = config.exclude_endpoints | {METRICS_ENDPOINT}
