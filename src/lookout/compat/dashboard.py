"""Flask-MonitoringDashboard's documented API (``config.from_file``, ``config.get_group_by``,
``bind``), on Lookout.

    from lookout.compat import dashboard

    dashboard.config.from_file("config.cfg")     # or from_file(None): $DASHBOARD_CONFIG
    dashboard.config.get_group_by = get_session_id
    dashboard.bind(app=user_app)

The ``[dashboard]`` section of ``config.cfg`` maps onto Lookout's settings (the full table is
in docs/migrating/flask-monitoring-dashboard.md): APP_VERSION (or GIT's HEAD commit) is the app
version, CUSTOM_LINK the dashboard's URL, USERNAME/PASSWORD the admin login (admin/admin only
when written in the file, with a warning), GUEST_USERNAME/GUEST_PASSWORD the read-only logins,
DATABASE the store, OUTLIER_DETECTION_CONSTANT the outlier constant, COLORS each endpoint's
chart colour. TEST_DIR, N and SUBMIT_RESULTS_URL are read but not used (a warning points to
Lookout's pytest plugin, which records test-suite performance for the Tests page).
"""

from __future__ import annotations

import ast
import configparser
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from lookout.compat import warn_once
from lookout.core import Lookout
from lookout.flask import LookoutFlask

logger = logging.getLogger("lookout.compat.dashboard")


def git_version(git_dir: str | Path) -> str | None:
    """The commit HEAD points at in ``git_dir`` (a ``.git`` folder), or None."""
    root = Path(git_dir)
    try:
        head = (root / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:40] or None
        ref = head[5:]
        ref_file = root / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()[:40]
        for line in (root / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0][:40]
    except OSError:
        return None
    return None


class Config:
    """Flask-MonitoringDashboard's settings, with its documented defaults."""

    def __init__(self) -> None:
        self.version = "1.0"
        self.link = "dashboard"
        self.username = "admin"
        self.password: str | None = None  # FMD's admin/admin only when written in the file
        self.guest_username = "guest"
        self.guest_password: list[str] = []
        self.database_name = "sqlite:///flask_monitoringdashboard.db"
        self.git: str | None = None
        self.test_dir: str | None = None
        self.n = 5
        self.submit_results_url: str | None = None
        self.outlier_detection_constant = 2.5
        self.colors: dict[str, str] = {}
        self.get_group_by: Callable[[], Any] | None = None

    def from_file(self, config_file: str | None) -> None:
        """Read ``config_file``'s ``[dashboard]`` section; ``$DASHBOARD_CONFIG`` overrides
        the path (and is used when the path is None)."""
        path = os.environ.get("DASHBOARD_CONFIG") or config_file
        if not path:
            logger.warning("dashboard.config.from_file: no file given and DASHBOARD_CONFIG unset")
            return
        parser = configparser.RawConfigParser()
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep case
        if not parser.read(path):
            raise FileNotFoundError(f"dashboard config file not found: {path}")
        if not parser.has_section("dashboard"):
            return
        section = parser["dashboard"]
        get = section.get
        self.version = get("APP_VERSION", self.version)
        self.link = get("CUSTOM_LINK", self.link).strip("/")
        self.username = get("USERNAME", self.username)
        if "PASSWORD" in section:
            self.password = section["PASSWORD"]
            if (self.username, self.password) == ("admin", "admin"):
                warn_once(
                    "fmd-admin-admin",
                    "config.cfg sets the dashboard login to admin/admin, "
                    "Flask-MonitoringDashboard's documented default; anyone can guess it. "
                    "Choose another PASSWORD",
                )
        self.guest_username = get("GUEST_USERNAME", self.guest_username)
        if "GUEST_PASSWORD" in section:
            self.guest_password = _password_list(section["GUEST_PASSWORD"])
        self.database_name = get("DATABASE", self.database_name)
        self.git = get("GIT", self.git)
        if self.git:
            self.version = git_version(self.git) or self.version
        self.test_dir = get("TEST_DIR", self.test_dir)
        self.n = int(get("N", str(self.n)))
        self.submit_results_url = get("SUBMIT_RESULTS_URL", self.submit_results_url)
        if self.test_dir or self.submit_results_url:
            warn_once(
                "fmd-tests",
                "TEST_DIR/N/SUBMIT_RESULTS_URL are not used: record test-suite performance "
                "with Lookout's pytest plugin (pytest --lookout-store URL) instead",
            )
        constant = get("OUTLIER_DETECTION_CONSTANT")
        if constant is not None:
            self.outlier_detection_constant = float(constant)
        if "COLORS" in section:
            self.colors = _colors(section["COLORS"])


def _password_list(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return [text]
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def _colors(text: str) -> dict[str, str]:
    value = ast.literal_eval(text)
    if not isinstance(value, dict):
        raise ValueError("COLORS must be a dict of endpoint names to [r, g, b]")
    return {str(name): f"rgb({r}, {g}, {b})" for name, (r, g, b) in value.items()}


config = Config()


def bind(app: Flask, lookout: Lookout | None = None) -> LookoutFlask:
    """Monitor ``app`` and mount the dashboard at ``/<CUSTOM_LINK>``, per ``config``."""
    lookout = lookout or Lookout(store=config.database_name, app_version=config.version)
    group_by = config.get_group_by
    return LookoutFlask(
        app,
        lookout,
        group_by=group_by,
        outlier_constant=config.outlier_detection_constant,
        dashboard_url=f"/{config.link}",
        dashboard_admin_user=config.username,
        dashboard_admin_password=config.password,
        dashboard_guest_user=config.guest_username,
        dashboard_guest_passwords=tuple(config.guest_password),
        dashboard_colors=config.colors,
    )
