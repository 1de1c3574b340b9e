"""The read-only JSON API: the overview, each name's questions, jobs, tests, metrics, system.

Each view checks its query parameters (:func:`lookout.dashboard.api.params`) and hands the
store to one function of :mod:`lookout.dashboard.data`; nothing here reads the store itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify

from lookout.dashboard import data
from lookout.dashboard.admin_views import endpoint_levels
from lookout.dashboard.api import KINDS, ApiError, params, parse_days, parse_kind, parse_range
from lookout.dashboard.context import current

DAY = 86400
#: Per-name questions: URL part -> (compute(store, kind, name, **args), its parameters).
NAME_QUESTIONS: dict[str, tuple[Callable[..., Any], Mapping[str, Callable[[str], Any]]]] = {
    "timeseries": (
        lambda s, k, n, range=DAY: data.timeseries(s, k, n, range_s=range),
        {"range": parse_range},
    ),
    "heatmap": (
        lambda s, k, n, days=28: data.heatmap(s, k, n, days=days),
        {"days": parse_days},
    ),
    "versions": (
        lambda s, k, n, range=7 * DAY: data.by_version(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "groups": (
        lambda s, k, n, range=7 * DAY: data.by_group(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "statuses": (
        lambda s, k, n, range=DAY: data.statuses_and_clients(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "outliers": (
        lambda s, k, n, range=7 * DAY: data.outliers(s, k, n, since_s=range),
        {"range": parse_range},
    ),
    "profile": (
        lambda s, k, n, range=DAY: data.profile(s, n, since_s=range),
        {"range": parse_range},
    ),
    "tracked": (
        lambda s, k, n, range=DAY: data.tracked(s, k, n, since_s=range),
        {"range": parse_range},
    ),
}


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/api/overview", "api_overview", api_overview, methods=["GET"])
    for question, (compute, allowed) in NAME_QUESTIONS.items():
        blueprint.add_url_rule(
            f"/api/names/<kind>/<path:name>/{question}",
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
    rows = data.overview(store, kinds=kinds, window_s=args.get("window", DAY))
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
    return jsonify({"rows": data.jobs(current().store(), since_s=args.get("range", 30 * DAY))})


def api_tests() -> Response:
    args = params({"range": parse_range})
    rows = data.suite_tests(current().store(), since_s=args.get("range", 30 * DAY))
    return jsonify({"rows": rows})


def api_metrics() -> Response:
    args = params({"range": parse_range})
    found = data.metrics(current().store(), range_s=args.get("range", 7 * DAY))
    return jsonify({"metrics": found})


def api_system() -> Response:
    params({})
    from lookout import __version__

    context = current()
    options = context.options
    return jsonify(
        {
            "version": __version__,
            "store": data.store_size(context.store()),
            "recorder": options.stats() if options.stats else None,
            "alerts": options.alerts() if options.alerts else None,
        }
    )
