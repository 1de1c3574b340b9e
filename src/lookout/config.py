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
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lookout.store.engine import DEFAULT_STORE_URL

logger = logging.getLogger("lookout.config")

ENV_PREFIX = "LOOKOUT_"
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


class ConfigError(ValueError):
    """A setting is unknown or has a value of the wrong kind."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as ``250ms``, ``30s``, ``15m``, ``12h``, ``30d``.

    NaN and infinities are refused: an infinite wait overflows every timer it reaches, and NaN
    compares false with everything (a batch interval of NaN made a thread spin).
    """
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError("a finite duration")
        if value < 0:
            raise ValueError("a duration that is not negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("a duration such as 250ms, 30s, 15m, 12h, 30d or a number of seconds")
    match = _DURATION.match(value)
    if not match:
        raise ValueError("a duration such as 250ms, 30s, 15m, 12h, 30d or a number of seconds")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


#: Shortest batch interval: a worker wakes up this often when idle (0 made it spin a core).
MIN_BATCH_INTERVAL_S = 0.005


def _interval(value: object) -> float:
    seconds = parse_duration(value)
    if seconds < MIN_BATCH_INTERVAL_S:
        raise ValueError(f"a duration of at least {MIN_BATCH_INTERVAL_S * 1000:g}ms")
    return seconds


def _optional_duration(value: object) -> float | None:
    if value is None or (
        isinstance(value, str) and value.strip().lower() in ("", "none", "off", "forever")
    ):
        return None
    return parse_duration(value)


def _positive_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("a whole number above 0")
    try:
        number = int(str(value).replace("_", "")) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError("a whole number above 0") from None
    if number <= 0 or (isinstance(value, float) and value != number):
        raise ValueError("a whole number above 0")
    return number


def _non_negative_int(value: object) -> int:
    if value in (0, "0"):
        return 0
    try:
        return _positive_int(value)
    except ValueError:
        raise ValueError("a whole number, 0 or more") from None


def _fraction(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("a number from 0 to 1") from None
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise ValueError("a number from 0 to 1")
    return number


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false")


def _optional_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError("a string")
    return str(value)


def _hostname(value: object) -> str | None:
    """A host name for stored events: 1 to 255 characters once stripped."""
    text = _optional_text(value)
    if text is None:
        return None
    if not text.strip() or len(text.strip()) > 255:
        raise ValueError("a name of 1 to 255 characters")
    return text.strip()


def _store_url(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")):
        return None
    if not isinstance(value, str):
        raise ValueError("a database URL string, or none to record without a store")
    from lookout.store.engine import StoreConfigError, normalize_url

    try:
        normalize_url(value)
    except StoreConfigError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value


def _key_names(value: object) -> tuple[str, ...]:
    """Key names, from a list or a comma-separated string (an environment variable)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of key names, or names separated by commas")
    return tuple(name.strip() for name in value if name.strip())


def _tables(value: object, what: str) -> tuple[dict[str, Any], ...]:
    """A list of tables with a ``type`` (TOML ``[[sinks]]``), or the same as a JSON string
    (environment); each checked against the known types of ``what`` (sink or notifier)."""
    from lookout.sinks.registry import SINK_TYPES, validate_sink_spec

    if what == "notifier":
        from lookout.notify import NOTIFIER_TYPES as types
    else:
        types = SINK_TYPES
    return tuple(
        validate_sink_spec(spec, f"{what} {n + 1}", types, what)
        for n, spec in enumerate(_table_list(value, what))
    )


def _table_list(value: object, what: str) -> list[Any]:
    """A list from TOML, or from a JSON string (how lists come through the environment)."""
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"a JSON list of {what} tables ({exc})") from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"a list of {what} tables, each with a 'type'")
    return list(value)


def _sink_specs(value: object) -> tuple[dict[str, Any], ...]:
    return _tables(value, "sink")


def _notifier_specs(value: object) -> tuple[dict[str, Any], ...]:
    return _tables(value, "notifier")


def _alert_specs(value: object) -> tuple[dict[str, Any], ...]:
    """A list of alert rule tables (TOML ``[[alerts]]``), or the same as a JSON string."""
    from lookout.alerts import build_rule

    specs = _table_list(value, "alert")
    if not all(isinstance(spec, dict) for spec in specs):
        raise ValueError("a list of alert tables, each with a 'type'")
    for spec in specs:
        build_rule(spec)  # raises with the reason when a table is wrong
    return tuple(dict(spec) for spec in specs)


def _fsync_policy(value: object) -> str | float:
    if isinstance(value, str) and value.strip().lower() in ("batch", "off"):
        return value.strip().lower()
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError("batch, off, or a duration such as 1s") from None


def _setting(default: Any, parse: Callable[[object], Any], doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"parse": parse, "doc": doc})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every Lookout setting, validated. See the configuration reference in the README."""

    store: str | None = _setting(
        DEFAULT_STORE_URL,
        _store_url,
        "Database URL of the store (SQLite, PostgreSQL, MySQL/MariaDB); none to keep no store.",
    )
    app_version: str | None = _setting(
        None, _optional_text, "Your application's version, stamped on every event."
    )
    hostname: str | None = _setting(
        None,
        _hostname,
        "This machine's name on stored events (default: the machine's name).",
    )
    enabled: bool = _setting(
        True, _boolean, "False turns monitoring off: decorators return the function unchanged."
    )
    sample_rate: float = _setting(
        1.0, _fraction, "Default fraction of monitored calls recorded (0 to 1)."
    )
    queue_size: int = _setting(
        100_000, _positive_int, "Events waiting to be dispatched before new ones are dropped."
    )
    sink_queue_size: int = _setting(
        100_000, _positive_int, "Events waiting for each sink before new ones are dropped."
    )
    batch_size: int = _setting(1000, _positive_int, "Most events written to a sink in one batch.")
    batch_interval: float = _setting(
        1.0, _interval, "Longest time an event waits for its batch (e.g. 250ms; at least 5ms)."
    )
    max_retries: int = _setting(
        5, _non_negative_int, "Retries of a failed batch write before its events count as failed."
    )
    retry_backoff: float = _setting(
        0.5, parse_duration, "First retry delay; doubles each retry, with jitter."
    )
    retry_max_backoff: float = _setting(30.0, parse_duration, "Longest delay between two retries.")
    shutdown_timeout: float = _setting(
        5.0, parse_duration, "Time given to write queued events at exit or SIGTERM."
    )
    handle_sigterm: bool = _setting(
        True, _boolean, "Flush on SIGTERM, then hand the signal to the previous handler."
    )
    max_value_bytes: int = _setting(
        64 * 1024,
        _positive_int,
        "Longest captured string value, in UTF-8 bytes (longer ones are cut, saying how much).",
    )
    max_event_bytes: int = _setting(
        1024 * 1024, _positive_int, "Largest JSON size of one event's fields, in bytes."
    )
    redact_keys: tuple[str, ...] = _setting(
        (),
        _key_names,
        "More key names whose values become [REDACTED], in captured data and in values you "
        "named (exact, case-insensitive, - and _ alike).",
    )
    keep_keys: tuple[str, ...] = _setting(
        (),
        _key_names,
        "Key names never redacted, even those of the default list for captured headers and "
        "arguments.",
    )
    retention: float | None = _setting(
        30 * 86400.0,
        _optional_duration,
        "Raw events and minute rollups older than this are deleted (none keeps them).",
    )
    rollup_retention: float | None = _setting(
        400 * 86400.0,
        _optional_duration,
        "Hour rollups older than this are deleted (none keeps them).",
    )
    store_process: bool = _setting(
        False,
        _boolean,
        "Write the store from a helper process, out of the application's GIL (lower latency on "
        "idle cores; more CPU in all).",
    )
    spool: bool = _setting(
        True,
        _boolean,
        "Keep the store's batches on disk while it cannot be written, and replay them in order "
        "(other sinks: spool = true in their table).",
    )
    spool_dir: str | None = _setting(
        None,
        _optional_text,
        "Where spools live (default: beside a SQLite file, else ~/.cache/lookout/spool).",
    )
    spool_max_bytes: int = _setting(
        256 * 1024 * 1024, _positive_int, "Most bytes each sink's spool keeps; beyond is counted."
    )
    spool_fsync: str | float = _setting(
        "batch", _fsync_policy, "When spooled records reach the disk: batch, off, or a duration."
    )
    sinks: tuple[dict[str, Any], ...] = _setting(
        (),
        _sink_specs,
        "More destinations: tables with a 'type' (http, log, prometheus, otlp, cloudwatch, mongo, "
        "influx).",
    )
    notifiers: tuple[dict[str, Any], ...] = _setting(
        (),
        _notifier_specs,
        "Where messages for people go: tables with a 'type' (console, smtp, sendgrid, slack, "
        "webhook).",
    )
    alerts: tuple[dict[str, Any], ...] = _setting(
        (),
        _alert_specs,
        "Alert rules: tables with a 'type' (error, error_rate, latency_p95, missed_run).",
    )

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SETTING_NAMES = tuple(field.name for field in dataclasses.fields(Settings))
_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}


def _unknown_key(key: str, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, SETTING_NAMES, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(SETTING_NAMES)}"
    return ConfigError(f"{where}: unknown setting {key!r}{hint}")


def _parse(key: str, value: object, where: str) -> Any:
    parse = _FIELDS[key].metadata["parse"]
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
