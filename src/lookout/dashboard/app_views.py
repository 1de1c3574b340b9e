"""The overview's JSON API: tiles, series and per-name rows of the whole app (``/api/overview/
...``), filtered by range, version and host like every page.

Each view checks its parameters and hands the store to :mod:`lookout.dashboard.app_data`
(rollups only). The range is ``range`` (1h ... 30d) or ``from``/``to`` (epoch seconds), read
by the same function as the Reports page's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, jsonify

from lookout.dashboard import app_data, run_data
from lookout.dashboard.api import ApiError, params, parse_range
from lookout.dashboard.app_rollups import Filters
from lookout.dashboard.context import current
from lookout.dashboard.report_views import parse_epoch, window_of

DAY = 86400
SERIES_KINDS = ("request", "call", "run")


def _text(value: str) -> str:
    if not value or len(value) > 255:
        raise ValueError(value)
    return value


def _version(value: str) -> str:
    """A version filter ('' is "no version set", as the origin rollups store it)."""
    if len(value) > 64:
        raise ValueError(value)
    return value


def parse_series_kind(value: str) -> str:
    if value not in SERIES_KINDS:
        raise ValueError(value)
    return value


COMMON: dict[str, Callable[[str], Any]] = {
    "range": parse_range,
    "from": parse_epoch,
    "to": parse_epoch,
    "version": _version,
    "host": _text,
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/api/overview/tiles", "api_overview_tiles", api_tiles)
    blueprint.add_url_rule("/api/overview/series", "api_overview_series", api_series)
    blueprint.add_url_rule("/api/overview/names", "api_overview_names", api_names)
    blueprint.add_url_rule("/api/runs/<name:name>", "api_runs", api_runs)


def _filters(args: dict[str, Any]) -> Filters:
    return Filters(version=args.get("version"), host=args.get("host"))


def _range(args: dict[str, Any]) -> tuple[int, int]:
    window = window_of(args, default_s=DAY)
    if window.end_s - window.start_s > 400 * DAY:
        raise ApiError(400, "a range may span 400 days at most")
    return window.start_s, window.end_s


def apdex() -> app_data.Apdex:
    """The dashboard's Apdex thresholds: its options, else the settings."""
    options = current().options
    if options.apdex_threshold_ms is not None:
        return app_data.Apdex(options.apdex_threshold_ms, dict(options.apdex_thresholds_ms or {}))
    return _apdex_from_settings()


@lru_cache(maxsize=1)
def _apdex_from_settings() -> app_data.Apdex:
    from lookout.config import load_settings

    settings, _ = load_settings()
    return app_data.Apdex(
        settings.apdex_threshold * 1000,
        {name: seconds * 1000 for name, seconds in settings.apdex_thresholds},
    )


def api_tiles() -> Response:
    args = params(COMMON)
    start, end = _range(args)
    found = app_data.tiles(current().store(), start, end, filters=_filters(args), apdex=apdex())
    return jsonify(found)


def _name_args() -> tuple[dict[str, Any], int, int]:
    """The parameters of a call that may ask for one name (``kind`` and ``name``)."""
    args = params({**COMMON, "kind": parse_series_kind, "name": _text})
    if "name" in args and "kind" not in args:
        raise ApiError(400, "parameter 'name' needs 'kind'")
    start, end = _range(args)
    return args, start, end


def api_series() -> Response:
    args, start, end = _name_args()
    found = app_data.series(
        current().store(),
        start,
        end,
        kind=args.get("kind", "request"),
        name=args.get("name"),
        filters=_filters(args),
    )
    return jsonify(found)


def api_names() -> Response:
    args, start, end = _name_args()
    kinds = (args["kind"],) if "kind" in args else ("request", "call")
    names_ = [(args["kind"], args["name"])] if "name" in args else None
    rows = app_data.name_rows(
        current().store(),
        kinds,
        start,
        end,
        filters=_filters(args),
        apdex=apdex(),
        names_=names_,
    )
    return jsonify({"from": start, "to": end, "rows": rows})


def api_runs(name: str) -> Response:
    args = params({key: COMMON[key] for key in ("range", "from", "to")})
    start, end = _range(args)
    return jsonify(run_data.runs(current().store(), name, start, end))
