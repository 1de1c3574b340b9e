"""The Distributions and Reports pages and their JSON API (``/api/reports/...``).

Each view checks its parameters and hands the store to :mod:`lookout.dashboard.report_data`
(rollups only) or :mod:`lookout.dashboard.report_heatmaps` (one name's raw events, bounded).
Time windows come as ``range`` (1h ... 30d) or ``from``/``to`` (epoch seconds), as on every
page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from lookout.dashboard import report_data, report_heatmaps
from lookout.dashboard.api import ApiError, params, parse_kind, parse_range
from lookout.dashboard.context import current
from lookout.dashboard.report_data import Window
from lookout.dashboard.spec import (
    ANY,
    BOOLEAN,
    INTEGER,
    NUMBER,
    NUMBER_OR_NULL,
    RANGES,
    STRING,
    TEXT,
    array,
    obj,
    operation,
    query,
)

DAY = 86400
COMPARE_MODES = ("day", "week", "custom")
KINDS = ["request", "call"]
EPOCH = {"type": "integer", "minimum": 0, "maximum": 2**33}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/distributions", "distributions_page", _page("distributions"))
    blueprint.add_url_rule("/reports", "reports_page", _page("reports"))
    for path, view in {
        "versions": api_versions,
        "distributions": api_distributions,
        "compare": api_compare,
        "utilization": api_utilization,
        "heatmaps": api_heatmaps,
    }.items():
        blueprint.add_url_rule(f"/api/reports/{path}", f"api_reports_{path}", view)


def _page(name: str) -> Callable[[], str]:
    def view() -> str:
        return current().page(f"{name}.html", page_name=name)

    view.__name__ = f"{name}_page"
    return view


def parse_epoch(value: str) -> int:
    seconds = int(value)
    if not 0 <= seconds <= 2**33:
        raise ValueError(value)
    return seconds


def parse_mode(value: str) -> str:
    if value not in COMPARE_MODES:
        raise ValueError(value)
    return value


WINDOW_PARAMS: dict[str, Callable[[str], Any]] = {
    "range": parse_range,
    "from": parse_epoch,
    "to": parse_epoch,
    "kind": parse_kind,
}


def window_of(args: dict[str, Any], default_s: int = 7 * DAY) -> Window:
    """The window a page asked for: ``from``/``to`` when given, else the last ``range``."""
    now_s = int(time.time())
    if "from" in args or "to" in args:
        start, end = args.get("from", now_s - default_s), args.get("to", now_s)
        if end <= start:
            raise ApiError(400, "parameter 'to' must be after 'from'")
        return Window(start, end, "custom")
    span = args.get("range", default_s)
    return Window(
        now_s - span, now_s, f"last {span // 3600} h" if span < DAY else f"last {span // DAY} d"
    )


def _kinds(args: dict[str, Any]) -> tuple[str, ...]:
    return (args["kind"],) if "kind" in args else report_data.KINDS


def api_versions() -> Response:
    params({})
    return jsonify({"versions": report_data.versions_in_order(current().store())})


def api_distributions() -> Response:
    args = params(WINDOW_PARAMS)
    window = window_of(args)
    store, kinds = current().store(), _kinds(args)
    rows = report_data.distributions(store, window, kinds)
    by_version = report_data.version_distributions(store, window, kinds)
    return jsonify({"window": window.as_dict(), "rows": rows, "by_version": by_version})


def api_compare() -> Response:
    args = params(
        {**WINDOW_PARAMS, "compare": parse_mode, "base_from": parse_epoch, "base_to": parse_epoch}
    )
    mode = args.get("compare", "day")
    if mode == "custom":
        missing = [p for p in ("from", "to", "base_from", "base_to") if p not in args]
        if missing:
            raise ApiError(400, f"compare=custom needs {', '.join(missing)}")
        if args["to"] <= args["from"] or args["base_to"] <= args["base_from"]:
            raise ApiError(400, "each period must end after it starts")
        base = Window(args["base_from"], args["base_to"], "base")
        now = Window(args["from"], args["to"], "current")
    else:
        base, now = report_data.period_windows(mode)
    store, kinds = current().store(), _kinds(args)
    found = report_data.compare(
        report_data.merged(store, base, kinds), report_data.merged(store, now, kinds)
    )
    return jsonify({"compare": mode, "base": base.as_dict(), "current": now.as_dict(), **found})


def api_utilization() -> Response:
    args = params(WINDOW_PARAMS)
    window = window_of(args)
    found = report_data.utilization(current().store(), window, _kinds(args))
    return jsonify({"window": window.as_dict(), **found})


def api_heatmaps() -> Response:
    args = params({**WINDOW_PARAMS, "name": str})
    if "name" not in args:
        raise ApiError(400, "parameter 'name' is required")
    window = window_of(args)
    found = report_heatmaps.version_heatmaps(
        current().store(), args.get("kind", "request"), args["name"], window
    )
    return jsonify({"window": window.as_dict(), **found})


def openapi_paths() -> dict[str, Any]:
    """This module's routes in the OpenAPI document, with the exact schemas of their answers."""
    window_params = [
        query("range", {"type": "string", "enum": RANGES}, "How far back to look (default 7d)."),
        query("from", EPOCH, "Start of a custom window (epoch seconds)."),
        query("to", EPOCH, "End of a custom window (epoch seconds)."),
        query("kind", {"type": "string", "enum": KINDS}, "Only this kind (default: every kind)."),
    ]
    window = obj({"from": INTEGER, "to": INTEGER, "label": STRING})
    box = dict.fromkeys(
        ("mean_ms", "p5_ms", "p25_ms", "p50_ms", "p75_ms", "p95_ms", "p99_ms", "max_ms"),
        NUMBER_OR_NULL,
    )
    numbers = array(NUMBER_OR_NULL)
    change = obj(
        {
            "kind": STRING,
            "name": STRING,
            "count": array(INTEGER),
            "p50_ms": numbers,
            "p95_ms": numbers,
            "p50_change": NUMBER_OR_NULL,
            "p95_change": NUMBER_OR_NULL,
            "delta": NUMBER,
            "latency_p": NUMBER,
            "latency_significant": BOOLEAN,
            "error_rate": array(NUMBER),
            "error_rate_change": NUMBER,
            "error_p": NUMBER,
            "error_significant": BOOLEAN,
        }
    )
    grid = obj(
        {
            "columns": array(STRING),
            "counts": array(array(INTEGER)),
            "p50_ms": array(numbers),
        }
    )
    return {
        "/api/reports/versions": {
            "get": operation(
                "Application versions, first seen first (the order every page shows them in).",
                obj({"versions": array(STRING)}),
            )
        },
        "/api/reports/distributions": {
            "get": operation(
                "Latency box per endpoint and function (p5, p25, p50, p75, p95, p99, mean) "
                "from the rollup sketches, slowest median first; and per version in "
                "'by_version' (versions first seen first).",
                obj(
                    {
                        "window": window,
                        "rows": array(
                            obj(
                                {
                                    "kind": STRING,
                                    "name": STRING,
                                    "count": INTEGER,
                                    "errors": INTEGER,
                                    **box,
                                }
                            )
                        ),
                        "by_version": obj(
                            {
                                "versions": array(STRING),
                                "rows": array(
                                    obj(
                                        {
                                            "kind": STRING,
                                            "name": STRING,
                                            "version": STRING,
                                            "count": INTEGER,
                                            "errors": INTEGER,
                                            **box,
                                        }
                                    )
                                ),
                            }
                        ),
                    }
                ),
                params=window_params,
            )
        },
        "/api/reports/compare": {
            "get": operation(
                "Significant latency and error-rate changes between two periods (yesterday "
                "and today, last week and this week, or custom), per endpoint and function, "
                "largest first; every name's test in 'all'.",
                obj(
                    {
                        "compare": STRING,
                        "base": window,
                        "current": window,
                        "latency": array(change),
                        "errors": array(change),
                        "all": array(change),
                        "only_base": array(STRING),
                        "only_current": array(STRING),
                        "method": obj(dict.fromkeys(report_data.METHOD, ANY)),
                    }
                ),
                params=[
                    query("compare", {"type": "string", "enum": list(COMPARE_MODES)}),
                    *window_params,
                    query("base_from", EPOCH, "Start of the base period (compare=custom)."),
                    query("base_to", EPOCH, "End of the base period (compare=custom)."),
                ],
            )
        },
        "/api/reports/utilization": {
            "get": operation(
                "Hits per endpoint and function per UTC day and per hour of day.",
                obj(
                    {
                        "window": window,
                        "days": array(INTEGER),
                        "series": array(
                            obj(
                                {
                                    "kind": STRING,
                                    "name": STRING,
                                    "daily": array(INTEGER),
                                    "hourly": array(INTEGER),
                                }
                            )
                        ),
                    }
                ),
                params=window_params,
            )
        },
        "/api/reports/heatmaps": {
            "get": operation(
                "Version x user and version x host hits and p50 of one endpoint or function, "
                "from its newest raw events (at most 20,000; 'complete': whether that was all).",
                obj(
                    {
                        "window": window,
                        "versions": array(STRING),
                        "users": grid,
                        "hosts": grid,
                        "sampled": INTEGER,
                        "complete": BOOLEAN,
                    }
                ),
                params=[
                    {
                        **query("name", {**TEXT, "minLength": 1}, "The endpoint or function."),
                        "required": True,
                    },
                    *window_params,
                ],
            )
        },
    }
