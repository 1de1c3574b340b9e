"""The OpenAPI paths of the overview's API (:mod:`lookout.dashboard.app_views`), exact to
what :mod:`lookout.dashboard.app_data` answers (schemathesis checks every answer)."""

from __future__ import annotations

from typing import Any

from lookout.dashboard.spec import (
    BOOLEAN,
    INTEGER,
    INTEGER_OR_NULL,
    NUMBER,
    NUMBER_OR_NULL,
    RANGES,
    STRING,
    STRING_OR_NULL,
    TEXT,
    array,
    obj,
    operation,
    path_param,
    query,
)

EPOCH = {"type": "integer", "minimum": 0, "maximum": 2**33}
QUANTILES = {
    "p50_ms": NUMBER_OR_NULL,
    "p75_ms": NUMBER_OR_NULL,
    "p95_ms": NUMBER_OR_NULL,
    "p99_ms": NUMBER_OR_NULL,
}
KIND = {"type": "string", "enum": ["request", "call", "run"]}
COMMON = [
    query("range", {"type": "string", "enum": RANGES}, "How far back to look (default 24h)."),
    query("from", EPOCH, "Start of a custom range (epoch seconds)."),
    query("to", EPOCH, "End of a custom range (epoch seconds; default now)."),
    query("version", {**TEXT, "maxLength": 64}, "Only this app version ('' is none set)."),
    query("host", {**TEXT, "minLength": 1, "maxLength": 255}, "Only this host."),
]
NAME = [
    query("kind", KIND, "Only this kind."),
    query("name", {**TEXT, "minLength": 1, "maxLength": 255}, "Only this name (needs kind)."),
]
TILE = obj(
    {
        "value": NUMBER_OR_NULL,
        "previous": NUMBER_OR_NULL,
        "delta": NUMBER_OR_NULL,
        "change": NUMBER_OR_NULL,
    }
)
WINDOW = obj(
    {
        "range_from": INTEGER,
        "range_to": INTEGER,
        "from": INTEGER,
        "to": INTEGER,
        "bucket_s": INTEGER,
        "time_step_s": INTEGER,
    }
)


def openapi_paths() -> dict[str, Any]:
    tiles = obj(
        {
            "from": INTEGER,
            "to": INTEGER,
            "previous_from": INTEGER,
            "previous_to": INTEGER,
            "apdex_t_ms": NUMBER,
            "tiles": obj(
                {"requests": TILE, "calls": TILE, "error_rate": TILE, "p95_ms": TILE, "apdex": TILE}
            ),
        }
    )
    point = obj(
        {
            "t": INTEGER,
            "count": INTEGER_OR_NULL,
            "errors": INTEGER_OR_NULL,
            "error_rate": NUMBER_OR_NULL,
            **QUANTILES,
        }
    )
    series = obj(
        {
            "kind": STRING,
            "name": STRING_OR_NULL,
            "window": WINDOW,
            "points": array(point),
            "ticks": obj({"count": array(NUMBER), "ms": array(NUMBER)}),
        }
    )
    row = obj(
        {
            "kind": STRING,
            "name": STRING,
            "count": INTEGER,
            "errors": INTEGER,
            "error_rate": NUMBER_OR_NULL,
            **QUANTILES,
            "apdex": NUMBER_OR_NULL,
            "apdex_t_ms": NUMBER,
            "last_ns": INTEGER,
        }
    )
    run = obj(
        {
            "id": INTEGER,
            "start_ns": INTEGER,
            "duration_ms": NUMBER,
            "outcome": STRING,
            "exit_code": INTEGER_OR_NULL,
            "summary": STRING_OR_NULL,
            "error": STRING_OR_NULL,
            "host": STRING,
            "version": STRING_OR_NULL,
        }
    )
    job = path_param(
        "name", {**TEXT, "minLength": 1, "not": {"enum": [".", ".."]}}, "The job's name."
    )
    return {
        "/api/runs/{name}": {
            "get": operation(
                "A job's latest runs (at most 200, newest first): outcome, exit code, duration, "
                "summary, error.",
                obj({"rows": array(run), "complete": BOOLEAN}),
                params=[job, *COMMON[:3]],
            )
        },
        "/api/overview/tiles": {
            "get": operation(
                "Requests, calls, error rate, p95 and Apdex over the range, with the previous "
                "range of equal length and the change.",
                tiles,
                params=COMMON,
            )
        },
        "/api/overview/series": {
            "get": operation(
                "Traffic, errors and p50/p75/p95/p99 per bucket (the bucket follows the range "
                "and the data; empty buckets are null).",
                series,
                params=[*COMMON, *NAME],
            )
        },
        "/api/overview/names": {
            "get": operation(
                "Per endpoint and function: count, errors, p50/p75/p95/p99 and Apdex with its "
                "threshold, busiest first (the pytest plugin's tests left out).",
                obj({"from": INTEGER, "to": INTEGER, "rows": array(row)}),
                params=[*COMMON, *NAME],
            )
        },
    }
