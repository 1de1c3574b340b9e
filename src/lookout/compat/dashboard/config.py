"""Flask-MonitoringDashboard's configuration file, read as FMD reads it, validated as Lookout does.

Both of FMD's forms are read: the README's ``config.from_file(path)`` (every key in
``[dashboard]``) and 5.x's ``config.init_from(file=..., envvar=...)`` (``[dashboard]``,
``[authentication]``, ``[database]``, ``[visualization]``). Keys are case-insensitive, as
configparser makes them. A missing file leaves FMD's defaults, as FMD does (with a warning); a
bad value raises :class:`~lookout.config.ConfigError` naming the file, section, key and what
was expected; a key FMD has but Lookout cannot honour raises naming it and why, never ignored.
"""

from __future__ import annotations

import ast
import configparser
import difflib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lookout.compat import warn_once
from lookout.config import ConfigError

logger = logging.getLogger("lookout.compat.dashboard")

#: FMD keys Lookout does not honour, and what to do instead.
UNSUPPORTED = {
    "BLUEPRINT_NAME": "Lookout's dashboard blueprint has its own name; remove it",
    "SECURITY_TOKEN": "FMD's shared token (a public default) is not used: create an API token "
    "on the dashboard's Admin page (Authorization: Bearer) for /get_json_data-style access",
    "TABLE_PREFIX": "Lookout keeps its own tables (lookout_*); remove it",
    "TIMEZONE": "the dashboard shows times in the browser's time zone; remove it",
    "BRAND_NAME": "the dashboard's name is not configurable; remove it",
    "TITLE_NAME": "the dashboard's title is not configurable; remove it",
    "DESCRIPTION": "the dashboard's description is not configurable; remove it",
    "SHOW_LOGIN_BANNER": "the login page's layout is not configurable; remove it",
    "SHOW_LOGIN_FOOTER": "the login page's layout is not configurable; remove it",
}
#: Sections FMD reads; [alerting] is FMD 5's alerting, which Lookout replaces with alert rules.
SECTIONS = ("dashboard", "authentication", "database", "visualization", "alerting")


def git_version(git_dir: str | Path) -> str | None:
    """The commit HEAD points at in ``git_dir`` (a ``.git`` folder), cut to 6 characters as
    FMD cuts it, or None."""
    root = Path(git_dir)
    try:
        head = (root / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:6] or None
        ref = head[5:]
        ref_file = root / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()[:6]
        for line in (root / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0][:6]
    except OSError:
        return None
    return None


def _text(value: str) -> str:
    return value


def _positive_int(value: str) -> int:
    number = int(value.strip())
    if number <= 0:
        raise ValueError
    return number


def _positive_number(value: str) -> float:
    number = ast.literal_eval(value.strip())
    if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
        raise ValueError
    return float(number)


def _level(value: str) -> int:
    number = ast.literal_eval(value.strip())
    if number not in (0, 1, 2, 3) or isinstance(number, bool):
        raise ValueError
    return int(number)


def _boolean(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError


def _passwords(value: str) -> list[str]:
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return [value]  # a bare password
    if isinstance(parsed, (list, tuple)):
        return [str(item) for item in parsed]
    return [str(parsed)]


def _colors(value: str) -> dict[str, str]:
    parsed = ast.literal_eval(value)
    if not isinstance(parsed, dict):
        raise ValueError
    colors = {}
    for name, rgb in parsed.items():
        if not (isinstance(rgb, (list, tuple)) and len(rgb) == 3):
            raise ValueError
        if not all(isinstance(c, int) and 0 <= c <= 255 for c in rgb):
            raise ValueError
        colors[str(name)] = "rgb({}, {}, {})".format(*rgb)
    return colors


#: key -> (attribute, parser, what a good value is)
KEYS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "APP_VERSION": ("version", _text, "a version string"),
    "CUSTOM_LINK": ("link", _text, "a URL path"),
    "USERNAME": ("username", _text, "a user name"),
    "PASSWORD": ("password", _text, "a password"),
    "GUEST_USERNAME": ("guest_username", _text, "a user name"),
    "GUEST_PASSWORD": ("guest_password", _passwords, "a password or a list of them"),
    "DATABASE": ("database_name", _text, "a database URL"),
    "GIT": ("git", _text, "the path of a .git folder"),
    "TEST_DIR": ("test_dir", _text, "the folder of your tests"),
    "N": ("n", _positive_int, "a whole number above 0"),
    "SUBMIT_RESULTS_URL": ("submit_results_url", _text, "a URL"),
    "OUTLIER_DETECTION_CONSTANT": (
        "outlier_detection_constant",
        _positive_number,
        "a number above 0",
    ),
    "COLORS": ("colors", _colors, "a dict of endpoint names to [r, g, b] (0-255)"),
    "MONITOR_LEVEL": ("monitor_level", _level, "0, 1, 2 or 3"),
    "SAMPLING_PERIOD": ("sampling_period", _positive_number, "milliseconds above 0"),
    "SAMPLING_RATE": ("sampling_period", _positive_number, "milliseconds above 0"),
    "ENABLE_LOGGING": ("enable_logging", _boolean, "True or False"),
}


class Config:
    """Flask-MonitoringDashboard's settings, with its documented defaults (the README's and
    FMD 5's: they agree but for the monitoring level, see :attr:`monitor_level`)."""

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
        self.n = 1  # collect_performance's default when the file has no N
        self.submit_results_url: str | None = None
        self.outlier_detection_constant = 2.5
        self.colors: dict[str, str] = {}
        #: None: the form's default, 2 (outliers) for from_file as the README's FMD recorded
        #: outliers of every endpoint, 1 for init_from (FMD 5's default level)
        self.monitor_level: int | None = None
        self.default_level = 1
        self.sampling_period = 5.0  # ms between two profiler samples (FMD 5's default)
        self.enable_logging = False
        self.get_group_by: Callable[[], Any] | None = None  # the README's name
        self.group_by: Callable[[], Any] | None = None  # FMD 5's name
        self.config_file: str | None = None

    def from_file(self, config_file: str | None) -> None:
        """The README's form: ``$DASHBOARD_CONFIG`` overrides the path (and is used when the
        path is None). When ``$DASHBOARD_LOG_DIR`` is set, starts its ``endpoint_hits.log``
        with the header line, as FMD did for test monitoring."""
        self.default_level = 2
        log_dir = os.environ.get("DASHBOARD_LOG_DIR")
        if log_dir:
            Path(log_dir + "endpoint_hits.log").write_text('"time","endpoint"\n')
        self._read(os.environ.get("DASHBOARD_CONFIG") or config_file)

    def init_from(
        self, file: str | None = None, envvar: str | None = None, log_verbose: bool = False
    ) -> None:
        """FMD 5's form: the file named by the environment variable ``envvar`` when given
        (as FMD: the variable wins, even unset), else ``file``."""
        self.default_level = 1
        if envvar:
            file = os.environ.get(envvar)
            if log_verbose:
                logger.warning("dashboard: running with config from %s", file)
        self._read(file)
        if log_verbose:
            logger.warning("dashboard: version %s, username %s", self.version, self.username)

    def _read(self, path: str | None) -> None:
        if not path:
            logger.warning("dashboard config: no file given (and none in the environment)")
            return
        parser = configparser.RawConfigParser()
        try:
            found = parser.read(path)
        except configparser.Error as error:
            raise ConfigError(f"dashboard config {path}: {error}") from None
        if not found:
            logger.warning(
                "dashboard config %s not found: Flask-MonitoringDashboard's defaults", path
            )
            return
        self.config_file = path
        for section in SECTIONS:
            if parser.has_section(section):
                for key, value in parser.items(section):
                    self._apply(path, section, key.upper(), value)
        if self.git:
            found_version = git_version(self.git)
            if found_version is None:
                raise ConfigError(
                    f"dashboard config {path}: GIT = {self.git!r} is not valid; expected a .git "
                    "folder with a HEAD"
                )
            self.version = found_version
        if (self.username, self.password) == ("admin", "admin"):
            warn_once(
                "fmd-admin-admin",
                "config.cfg sets the dashboard login to admin/admin, "
                "Flask-MonitoringDashboard's documented default; anyone can guess it. "
                "Choose another PASSWORD",
            )

    def _apply(self, path: str, section: str, key: str, value: str) -> None:
        where = f"dashboard config {path} [{section}]"
        if section == "alerting":
            raise ConfigError(
                f"{where}: {key} is not supported: FMD's alerting is replaced by Lookout's "
                "alert rules ([[alerts]] in lookout.toml, docs/alerts.md); remove the section"
            )
        if key in UNSUPPORTED:
            raise ConfigError(f"{where}: {key} is not supported: {UNSUPPORTED[key]}")
        if key not in KEYS:
            close = difflib.get_close_matches(key, [*KEYS, *UNSUPPORTED], n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{where}: unknown key {key}{hint}")
        attribute, parse, expected = KEYS[key]
        try:
            parsed = parse(value)
        except (ValueError, SyntaxError, TypeError):
            raise ConfigError(
                f"{where}: {key} = {value!r} is not valid; expected {expected}"
            ) from None
        if key == "CUSTOM_LINK":
            parsed = str(parsed).strip("/")
        setattr(self, attribute, parsed)

    @property
    def level(self) -> int:
        """The monitoring level endpoints start at (MONITOR_LEVEL, or the form's default)."""
        return self.default_level if self.monitor_level is None else self.monitor_level
