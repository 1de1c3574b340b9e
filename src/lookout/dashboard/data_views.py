"""The read-only JSON API: the overview, each name's questions, jobs, tests, metrics, system.

Each view checks its query parameters (:func:`lookout.dashboard.api.params`) and hands the
store to one function of the data modules (:mod:`lookout.dashboard.data` lists them);
nothing here reads the store itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify

from lookout.dashboard import name_data, overview_data, page_data, raw_data
from lookout.dashboard.admin_views import endpoint_levels
from lookout.dashboard.api import KINDS, ApiError, params, parse_days, parse_kind, parse_range
from lookout.dashboard.context import current
from lookout.dashboard.spec import (
    ANY,
    BOOLEAN,
    CALL_NODE,
    INTEGER,
    INTEGER_OR_NULL,
    NAME_PARAMS,
    NUMBER,
    NUMBER_OR_NULL,
    RANGE,
    STRING,
    STRING_OR_NULL,
    array,
    obj,
    operation,
    query,
)
from lookout.testruns import queries

DAY = 86400
#: Per-name questions: URL part -> (compute(store, kind, name, **args), its parameters).
NAME_QUESTIONS: dict[str, tuple[Callable[..., Any], Mapping[str, Callable[[str], Any]]]] = {
    "timeseries": (
        lambda s, k, n, range=DAY: name_data.timeseries(s, k, n, range_s=range),
        {"range": parse_range},
    ),
    "heatmap": (
        lambda s, k, n, days=28: name_data.heatmap(s, k, n, days=days),
        {"days": parse_days},
    ),
    "versions": (
        lambda s, k, n, range=7 * DAY: raw_data.by_version(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "groups": (
        lambda s, k, n, range=7 * DAY: raw_data.by_group(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "statuses": (
        lambda s, k, n, range=DAY: raw_data.statuses_and_clients(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "outliers": (
        lambda s, k, n, range=7 * DAY: raw_data.outliers(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "profile": (
        lambda s, k, n, range=DAY: raw_data.profile(s, n, since_s=range),
        {"range": parse_range},
    ),
    "tracked": (
        lambda s, k, n, range=DAY: raw_data.tracked(s, k, n, since_s=range),
        {"range": parse_range},
    ),
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/api/overview", "api_overview", api_overview, methods=["GET"])
    for question, (compute, allowed) in NAME_QUESTIONS.items():
        blueprint.add_url_rule(
            f"/api/names/<kind>/<name:name>/{question}",
            f"api_{question}",
            _name_view(compute, allowed),
            methods=["GET"],
        )
    blueprint.add_url_rule("/api/jobs", "api_jobs", api_jobs, methods=["GET"])
    blueprint.add_url_rule("/api/tests", "api_tests", api_tests, methods=["GET"])
    blueprint.add_url_rule("/api/metrics", "api_metrics", api_metrics, methods=["GET"])
    blueprint.add_url_rule("/api/system", "api_system", api_system, methods=["GET"])


def _name_view(
    compute: Callable[..., Any], allowed: Mapping[str, Callable[[str], Any]]
) -> Callable[[str, str], Response]:
    def view(kind: str, name: str) -> Response:
        if kind not in KINDS:
            raise ApiError(404, f"kind must be one of {', '.join(KINDS)}")
        args = params(allowed)
        return jsonify(compute(current().store(), kind, name, **args))

    return view


def api_overview() -> Response:
    args = params({"kind": parse_kind, "window": parse_range})
    kinds = (args["kind"],) if "kind" in args else ("request", "call")
    store = current().store()
    rows = overview_data.overview(store, kinds=kinds, window_s=args.get("window", DAY))
    levels = endpoint_levels(store)
    for row in rows:
        if row["kind"] == "request":
            row["levels"] = [
                {"app": app, "level": found["levels"].get(row["name"], found["default"])}
                for app, found in levels.items()
                if row["name"] in found["endpoints"]
            ]
    return jsonify({"rows": rows, "generated_ns": time.time_ns()})


def api_jobs() -> Response:
    args = params({"range": parse_range})
    return jsonify({"rows": page_data.jobs(current().store(), since_s=args.get("range", 30 * DAY))})


def api_tests() -> Response:
    args = params({"range": parse_range})
    since_ns = time.time_ns() - args.get("range", 30 * DAY) * 1_000_000_000
    return jsonify({"rows": queries.summary(current().store(), since_ns=since_ns)})


def api_metrics() -> Response:
    args = params({"range": parse_range})
    found = page_data.metrics(current().store(), range_s=args.get("range", 7 * DAY))
    return jsonify({"metrics": found})


def api_system() -> Response:
    params({})
    from lookout import __version__

    context = current()
    options = context.options
    return jsonify(
        {
            "version": __version__,
            "store": page_data.store_size(context.store()),
            "recorder": options.stats() if options.stats else None,
            "alerts": options.alerts() if options.alerts else None,
        }
    )


def openapi_paths() -> dict[str, Any]:
    """This module's routes in the OpenAPI document, with the exact schemas of their answers."""
    quantiles = {"p50_ms": NUMBER_OR_NULL, "p90_ms": NUMBER_OR_NULL, "p99_ms": NUMBER_OR_NULL}
    distribution = obj(
        {
            "rows": array(obj({"key": STRING, "count": INTEGER, "errors": INTEGER, **quantiles})),
            "sampled": INTEGER,
            "complete": BOOLEAN,
        }
    )
    overview_row = obj(
        {
            "kind": STRING,
            "name": STRING,
            "hits_1h": INTEGER,
            "hits_24h": INTEGER,
            "hits_7d": INTEGER,
            **quantiles,
            "error_rate": NUMBER_OR_NULL,
            "last_ns": INTEGER,
            "sparkline": array(INTEGER),
            "levels": array(obj({"app": STRING, "level": INTEGER})),
        },
        optional=("levels",),
    )
    answers = {
        "timeseries": obj(
            {
                "bucket_s": INTEGER,
                "points": array(
                    obj({"t": INTEGER, "count": INTEGER, "errors": INTEGER, **quantiles})
                ),
            }
        ),
        "heatmap": obj(
            {"days": INTEGER, "weekdays": array(STRING), "counts": array(array(INTEGER))}
        ),
        "versions": distribution,
        "groups": distribution,
        "statuses": obj(
            {
                "statuses": array(obj({"status": STRING, "count": INTEGER})),
                "clients": array(obj({"client_ip": STRING, "count": INTEGER})),
                "sampled": INTEGER,
                "complete": BOOLEAN,
            }
        ),
        # each outlier's details are what the Flask integration recorded (free-form)
        "outliers": array(
            obj(
                {"start_ns": INTEGER, "duration_ms": NUMBER, "request_id": STRING_OR_NULL},
                more=True,
            )
        ),
        "profile": obj({"requests": INTEGER, "tree": CALL_NODE}),
        "tracked": obj(
            {
                "columns": array(STRING),
                "rows": array(
                    obj(
                        {
                            "start_ns": INTEGER,
                            "request_id": STRING_OR_NULL,
                            "group": STRING_OR_NULL,
                            "error_type": STRING_OR_NULL,
                            "values": {"type": "object"},
                        }
                    )
                ),
            }
        ),
    }
    summaries = {
        "timeseries": "Hits, errors and p50/p90/p99 per minute (up to 24h) or hour.",
        "heatmap": "Hits per weekday and hour of day (UTC).",
        "versions": "Latency distribution per app version.",
        "groups": "Latency distribution per user (group_by).",
        "statuses": "Status codes and busiest client addresses.",
        "outliers": "Recent outliers with request details and sampled stacks.",
        "profile": "The sampling profiler's merged call tree (level 3).",
        "tracked": "Recent tracked values (g variables, extra call data).",
    }
    days = query("days", {"type": "integer", "minimum": 1, "maximum": 366}, "Days back.")
    paths: dict[str, Any] = {
        "/api/overview": {
            "get": operation(
                "Per endpoint and function: hits, percentiles, error rate, last access, sparkline.",
                obj({"rows": array(overview_row), "generated_ns": INTEGER}),
                params=[
                    query("kind", {"type": "string", "enum": list(KINDS)}),
                    query("window", RANGE["schema"], "The window of percentiles and errors."),
                ],
            )
        },
        "/api/jobs": {
            "get": operation(
                "Supervised jobs and their latest runs.",
                obj(
                    {
                        "rows": array(
                            obj(
                                {
                                    "name": STRING,
                                    "runs": INTEGER,
                                    "failures": INTEGER,
                                    "last_start_ns": INTEGER,
                                    "last_duration_ms": NUMBER,
                                    "last_outcome": STRING,
                                    "last_exit_code": INTEGER_OR_NULL,
                                    "last_error": STRING_OR_NULL,
                                    "schedule": ANY,
                                    "summary": ANY,
                                }
                            )
                        )
                    }
                ),
                params=[RANGE],
            )
        },
        "/api/tests": {
            "get": operation(
                "Each test of the pytest plugin's runs in the range, slowest median call first.",
                obj(
                    {
                        "rows": array(
                            obj(
                                {
                                    "name": STRING,
                                    "runs": INTEGER,
                                    "failures": INTEGER,
                                    "p50_ms": NUMBER,
                                    "p90_ms": NUMBER,
                                    "max_ms": NUMBER,
                                    "last_ns": INTEGER,
                                    "last_outcome": ANY,
                                    "last_version": STRING_OR_NULL,
                                }
                            )
                        )
                    }
                ),
                params=[RANGE],
            )
        },
        "/api/metrics": {
            "get": operation(
                "Custom metrics per hour.",
                obj(
                    {
                        "metrics": array(
                            obj(
                                {
                                    "name": STRING,
                                    "unit": ANY,
                                    "complete": BOOLEAN,
                                    "points": array(
                                        obj(
                                            {
                                                "t": INTEGER,
                                                "count": INTEGER,
                                                "sum": NUMBER,
                                                "mean": NUMBER,
                                                "max": NUMBER,
                                            }
                                        )
                                    ),
                                }
                            )
                        )
                    }
                ),
                params=[RANGE],
            )
        },
        "/api/system": {
            "get": operation(
                "Lookout's version, store size, and this process's counters.",
                obj(
                    {
                        "version": STRING,
                        "store": obj(
                            {
                                "backend": STRING,
                                "url": STRING,
                                "bytes": INTEGER_OR_NULL,
                                "rows": {"type": "object", "additionalProperties": INTEGER},
                            }
                        ),
                        "recorder": {"type": ["object", "null"]},
                        "alerts": {"type": ["object", "null"]},
                    }
                ),
            )
        },
    }
    for question, answer in answers.items():
        paths[f"/api/names/{{kind}}/{{name}}/{question}"] = {
            "get": operation(
                summaries[question],
                answer,
                params=[*NAME_PARAMS, days if question == "heatmap" else RANGE],
                error_codes=("404",),
            )
        }
    return paths
