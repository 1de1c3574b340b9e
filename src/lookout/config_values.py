"""Parsers of setting values: each takes what a source gave (a TOML value, a keyword argument,
an environment string) and returns the setting's value, or raises ``ValueError`` saying what
was expected. :mod:`lookout.config` turns that into a ``ConfigError`` naming the key and source;
:mod:`lookout.settings_table` names the parser of each setting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

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


def interval(value: object) -> float:
    seconds = parse_duration(value)
    if seconds < MIN_BATCH_INTERVAL_S:
        raise ValueError(f"a duration of at least {MIN_BATCH_INTERVAL_S * 1000:g}ms")
    return seconds


def optional_duration(value: object) -> float | None:
    if value is None or (
        isinstance(value, str) and value.strip().lower() in ("", "none", "off", "forever")
    ):
        return None
    return parse_duration(value)


def positive_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("a whole number above 0")
    try:
        number = int(str(value).replace("_", "")) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError("a whole number above 0") from None
    if number <= 0 or (isinstance(value, float) and value != number):
        raise ValueError("a whole number above 0")
    return number


def non_negative_int(value: object) -> int:
    if value in (0, "0"):
        return 0
    try:
        return positive_int(value)
    except ValueError:
        raise ValueError("a whole number, 0 or more") from None


def fraction(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("a number from 0 to 1") from None
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise ValueError("a number from 0 to 1")
    return number


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false")


def optional_text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError("a string")
    return str(value)


def hostname(value: object) -> str | None:
    """A host name for stored events: 1 to 255 characters once stripped."""
    text = optional_text(value)
    if text is None:
        return None
    if not text.strip() or len(text.strip()) > 255:
        raise ValueError("a name of 1 to 255 characters")
    return text.strip()


def store_url(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")):
        return None
    if not isinstance(value, str):
        raise ValueError("a database URL string, or none to record without a store")
    from lookout.store.clickhouse import url as clickhouse_url
    from lookout.store.engine import StoreConfigError, normalize_url

    if clickhouse_url.is_clickhouse_url(value):
        clickhouse_url.parse(value)  # ValueError naming what is wrong
        return value
    try:
        normalize_url(value)
    except StoreConfigError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value


def key_names(value: object) -> tuple[str, ...]:
    """Key names, from a list or a comma-separated string (an environment variable)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of key names, or names separated by commas")
    return tuple(name.strip() for name in value if name.strip())


def tables(value: object, what: str) -> tuple[dict[str, Any], ...]:
    """A list of tables with a ``type`` (TOML ``[[sinks]]``), or the same as a JSON string
    (environment); each checked against the known types of ``what`` (sink or notifier)."""
    from lookout.sinks.registry import SINK_TYPES, validate_sink_spec

    if what == "notifier":
        from lookout.notify import NOTIFIER_TYPES as types
    else:
        types = SINK_TYPES
    return tuple(
        validate_sink_spec(spec, f"{what} {n + 1}", types, what)
        for n, spec in enumerate(table_list(value, what))
    )


def table_list(value: object, what: str) -> list[Any]:
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


def sink_specs(value: object) -> tuple[dict[str, Any], ...]:
    return tables(value, "sink")


def notifier_specs(value: object) -> tuple[dict[str, Any], ...]:
    return tables(value, "notifier")


def alert_specs(value: object) -> tuple[dict[str, Any], ...]:
    """A list of alert rule tables (TOML ``[[alerts]]``), or the same as a JSON string.

    Only their shape is checked here: settings know nothing of alert rules, which
    :func:`lookout.alerts.build_rules` makes (and checks) from these plain tables."""
    specs = table_list(value, "alert")
    if not all(isinstance(spec, dict) and isinstance(spec.get("type"), str) for spec in specs):
        raise ValueError("a list of alert tables, each with a 'type'")
    return tuple(dict(spec) for spec in specs)


def fsync_policy(value: object) -> str | float:
    if isinstance(value, str) and value.strip().lower() in ("batch", "off"):
        return value.strip().lower()
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError("batch, off, or a duration such as 1s") from None


def positive_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("a positive duration such as 500ms")
    return seconds


def durations_by_name(value: object) -> tuple[tuple[str, float], ...]:
    """(name, seconds) pairs, sorted, from a table (``{checkout = "2s"}``) or a string
    (``checkout=2s,search=800ms``, as an environment variable carries it)."""
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("name=duration pairs separated by commas, e.g. checkout=2s")
        value = {name.strip(): duration.strip() for name, duration in pairs}
    if not isinstance(value, Mapping):
        raise ValueError('a table of name = duration, e.g. {checkout = "2s"}')
    found = {}
    for name, duration in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError("names must be non-empty strings")
        seconds = parse_duration(duration)
        if seconds <= 0:
            raise ValueError(f"a positive duration for {name!r}")
        found[name] = seconds
    return tuple(sorted(found.items()))
