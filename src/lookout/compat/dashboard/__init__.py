"""Flask-MonitoringDashboard's documented API (``config.from_file``, ``config.init_from``,
``config.get_group_by``, ``bind``), on Lookout.

    from lookout.compat import dashboard

    dashboard.config.from_file("config.cfg")     # or from_file(None): $DASHBOARD_CONFIG
    dashboard.config.get_group_by = get_session_id
    dashboard.bind(app=user_app)

The configuration file maps onto Lookout's settings (:mod:`lookout.compat.dashboard.config`;
the table is in docs/migrating/flask-monitoring-dashboard.md): APP_VERSION (or GIT's HEAD
commit, 6 characters as FMD cuts it) is the app version, CUSTOM_LINK the dashboard's URL,
USERNAME/PASSWORD the admin login, GUEST_USERNAME/GUEST_PASSWORD the read-only logins,
DATABASE the store, OUTLIER_DETECTION_CONSTANT the outlier rule (slower than the constant x
the endpoint's average, as FMD), MONITOR_LEVEL the endpoints' level, SAMPLING_PERIOD the
profiler's interval, ENABLE_LOGGING Lookout's console logging, COLORS each endpoint's chart
colour. TEST_DIR, N and SUBMIT_RESULTS_URL drive ``python -m
lookout.compat.dashboard.collect_performance``.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask

from lookout.compat.dashboard.config import Config, git_version
from lookout.core import Lookout
from lookout.flask import LookoutFlask

__all__ = ["Config", "bind", "config", "git_version"]

config = Config()


def bind(
    app: Flask,
    schedule: bool = True,
    include_dashboard: bool = True,
    *,
    lookout: Lookout | None = None,
) -> LookoutFlask:
    """Monitor ``app`` and mount the dashboard at ``/<CUSTOM_LINK>``, per ``config``.

    ``schedule`` (FMD 5: its background jobs) has nothing to start in Lookout, whose rollups
    and levels run in its own threads; ``include_dashboard=False`` monitors without mounting
    the dashboard, as in FMD.
    """
    current = config
    if current.enable_logging:
        _log_to_console()
    lookout = lookout or Lookout(store=current.database_name, app_version=current.version)
    return LookoutFlask(
        app,
        lookout,
        group_by=current.group_by or current.get_group_by,
        default_level=current.level,
        outlier_constant=current.outlier_detection_constant,
        outlier_rule="average",
        sampler_interval=current.sampling_period / 1000.0,
        dashboard_url=f"/{current.link}" if include_dashboard else None,
        dashboard_admin_user=current.username,
        dashboard_admin_password=current.password,
        dashboard_guest_user=current.guest_username,
        dashboard_guest_passwords=tuple(current.guest_password),
        dashboard_colors=current.colors,
    )


def _log_to_console() -> None:
    """ENABLE_LOGGING: Lookout's own messages at INFO on stderr (FMD printed its to the
    console)."""
    root = logging.getLogger("lookout")
    if not any(getattr(h, "_lookout_fmd", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._lookout_fmd = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
