"""Settings from defaults, a TOML file, keyword arguments and ``LOOKOUT_*`` environment variables.

Precedence, lowest first: defaults, the TOML file, keyword arguments, environment variables.
The environment wins so that whoever deploys an application can change where its data goes
(``LOOKOUT_STORE=postgresql://...``) without touching its code. Everything is validated when
Lookout starts; a bad key or value raises :class:`ConfigError` naming the key, the value, what
was expected, and for a misspelt key the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lookout import settings_table
from lookout.config_values import MIN_BATCH_INTERVAL_S, parse_duration
from lookout.settings_table import ENV_PREFIX

logger = logging.getLogger("lookout.config")

#: Environment variables with the prefix that other parts of Lookout read: not settings, and
#: not typos either.
ENV_NOT_SETTINGS = frozenset(
    {
        "LOOKOUT_CONFIG",
        "LOOKOUT_REQUIRE_SERVICES",
        "LOOKOUT_NATIVE",  # setup.py: compile with mypyc or not
        "LOOKOUT_SENDGRID_API_URL",  # notify/sendgrid.py
        "LOOKOUT_CHROMIUM",  # this project's browser tests
        "LOOKOUT_UPDATE_SCREENSHOTS",
    }
)
#: Prefixes of variable families read elsewhere: the dashboard's options (lookout dashboard),
#: the pytest plugin's, and this project's test suite's.
ENV_NOT_SETTINGS_PREFIXES = ("LOOKOUT_DASHBOARD_", "LOOKOUT_PYTEST_", "LOOKOUT_TEST_")
DEFAULT_CONFIG_FILE = "lookout.toml"
__all__ = [
    "MIN_BATCH_INTERVAL_S",
    "ConfigError",
    "Settings",
    "load_settings",
    "parse_duration",
    "read_file",
    "resolve_store_url",
]


class ConfigError(ValueError):
    """A setting is unknown or has a value of the wrong kind."""


def _default(name: str) -> Any:
    return dataclasses.field(default=settings_table.default(name))


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every Lookout setting, validated. Types for the code here; defaults, parsers and meanings
    in :mod:`lookout.settings_table` (one field per row of its ``lookout`` group, in order)."""

    store: str | None = _default("store")
    app_version: str | None = _default("app_version")
    hostname: str | None = _default("hostname")
    enabled: bool = _default("enabled")
    sample_rate: float = _default("sample_rate")
    queue_size: int = _default("queue_size")
    sink_queue_size: int = _default("sink_queue_size")
    batch_size: int = _default("batch_size")
    batch_interval: float = _default("batch_interval")
    max_retries: int = _default("max_retries")
    retry_backoff: float = _default("retry_backoff")
    retry_max_backoff: float = _default("retry_max_backoff")
    shutdown_timeout: float = _default("shutdown_timeout")
    handle_sigterm: bool = _default("handle_sigterm")
    max_value_bytes: int = _default("max_value_bytes")
    max_event_bytes: int = _default("max_event_bytes")
    redact_keys: tuple[str, ...] = _default("redact_keys")
    keep_keys: tuple[str, ...] = _default("keep_keys")
    retention: float | None = _default("retention")
    rollup_retention: float | None = _default("rollup_retention")
    store_process: bool = _default("store_process")
    spool: bool = _default("spool")
    spool_dir: str | None = _default("spool_dir")
    spool_max_bytes: int = _default("spool_max_bytes")
    spool_fsync: str | float = _default("spool_fsync")
    sinks: tuple[dict[str, Any], ...] = _default("sinks")
    notifiers: tuple[dict[str, Any], ...] = _default("notifiers")
    alerts: tuple[dict[str, Any], ...] = _default("alerts")
    apdex_threshold: float = _default("apdex_threshold")
    apdex_thresholds: tuple[tuple[str, float], ...] = _default("apdex_thresholds")

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SETTING_NAMES = tuple(field.name for field in dataclasses.fields(Settings))
_FIELDS = {setting.name: setting for setting in settings_table.group(settings_table.LOOKOUT)}
if tuple(_FIELDS) != SETTING_NAMES:  # a row without a field, or a field without a row
    raise RuntimeError(
        f"lookout.config.Settings fields {SETTING_NAMES} differ from the settings table's "
        f"{tuple(_FIELDS)}"
    )


def _unknown_key(key: str, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, SETTING_NAMES, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(SETTING_NAMES)}"
    return ConfigError(f"{where}: unknown setting {key!r}{hint}")


def _parse(key: str, value: object, where: str) -> Any:
    parse = _FIELDS[key].parse
    assert parse is not None  # every row of the lookout group has one
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {key} = {value!r} is not valid; expected {exc}") from None


def read_file(path: str | Path) -> dict[str, Any]:
    """Read settings from a TOML file: top-level keys, or a ``[lookout]`` table."""
    # Imported here: its parser is some 4,000 objects that the application's full garbage
    # collections would walk for the process's life, in every process without a config file.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(file)!r} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {str(file)!r} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {str(file)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(file)!r} is not valid TOML: {exc}") from None
    table = data.get("lookout")
    return dict(table) if isinstance(table, dict) else data


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Combine every source into validated :class:`Settings`.

    Args:
        overrides: keyword arguments given in code.
        config_file: a TOML file; by default ``$LOOKOUT_CONFIG`` or ``./lookout.toml`` if present.
        environ: the environment (``os.environ`` by default).

    Returns:
        The settings and, for each one not left at its default, where its value came from.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    path = config_file or env.get("LOOKOUT_CONFIG")
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        where = f"config file {str(path)!r}"
        for key, value in read_file(path).items():
            if key not in _FIELDS:
                raise _unknown_key(key, where)
            values[key] = _parse(key, value, where)
            sources[key] = where

    for key, value in (overrides or {}).items():
        if key not in _FIELDS:
            raise _unknown_key(key, "Lookout()")
        values[key] = _parse(key, value, "Lookout()")
        sources[key] = "argument"

    for env_key, value in env.items():
        if (
            not env_key.startswith(ENV_PREFIX)
            or env_key in ENV_NOT_SETTINGS
            or env_key.startswith(ENV_NOT_SETTINGS_PREFIXES)
        ):
            continue
        key = env_key[len(ENV_PREFIX) :].lower()
        where = f"environment variable {env_key}"
        if key not in _FIELDS:
            # A misspelt variable would otherwise leave its setting silently at the default
            # (LOOKOUT_BACH_SIZE); the prefix is Lookout's own.
            raise _unknown_key(key, where)
        values[key] = _parse(key, value, where)
        sources[key] = where

    return Settings(**values), sources


def resolve_store_url(explicit: str | None) -> str:
    """The store a command reads: the one given (``--store``), else the configured one
    (environment, ``lookout.toml``); a ConfigError when there is neither."""
    if explicit:
        return explicit
    settings, _ = load_settings()
    if settings.store is None:
        raise ConfigError("no store is configured; pass --store URL")
    return settings.store
