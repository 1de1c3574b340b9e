"""The OpenAPI 3.1 document of the dashboard's JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

RANGE: dict[str, Any] = {
    "name": "range",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["1h", "6h", "24h", "7d", "30d"]},
    "description": "How far back to look.",
}
NAME_PARAMS: list[dict[str, Any]] = [
    {
        "name": "kind",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["request", "call", "run", "metric"]},
    },
    {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The endpoint, function, job or metric name.",
    },
]
JSON = {"application/json": {"schema": {"type": "object"}}}
ERRORS = {
    "400": {"description": "An unknown parameter or an invalid value (the message says which)."},
    "401": {"description": "Not logged in and no valid token."},
    "403": {"description": "Not allowed for this role, or a missing CSRF token."},
}


def _get(summary: str, params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params or [],
            "responses": {"200": {"description": "OK", "content": JSON}, **ERRORS},
        }
    }


def openapi_document(base: str) -> dict[str, Any]:
    per_name = {
        "timeseries": "Hits, errors and p50/p90/p99 per minute (up to 24h) or hour.",
        "heatmap": "Hits per weekday and hour of day (UTC).",
        "versions": "Latency distribution per app version.",
        "groups": "Latency distribution per user (group_by).",
        "statuses": "Status codes and busiest client addresses.",
        "outliers": "Recent outliers with request details and sampled stacks.",
        "profile": "The sampling profiler's merged call tree (level 3).",
        "tracked": "Recent tracked values (g variables, extra call data).",
    }
    paths: dict[str, Any] = {
        "/api/me": _get("Who is logged in, their role and CSRF token."),
        "/api/overview": _get(
            "Per endpoint and function: hits, percentiles, error rate, last access, sparkline.",
            [
                {"name": "kind", "in": "query", "schema": {"type": "string"}},
                {**RANGE, "name": "window"},
            ],
        ),
        "/api/jobs": _get("Supervised jobs and their latest runs.", [RANGE]),
        "/api/metrics": _get("Custom metrics per hour.", [RANGE]),
        "/api/tests": _get("Test durations and outcomes (the pytest plugin).", [RANGE]),
        "/api/system": _get("Lookout's version, store size, and this process's counters."),
        "/api/levels": {
            **_get("Monitoring levels per Flask app and endpoint."),
            "post": {
                "summary": "Set an endpoint's monitoring level (admin).",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["app", "endpoint", "level"],
                                "properties": {
                                    "app": {"type": "string"},
                                    "endpoint": {"type": "string"},
                                    "level": {"type": "integer", "enum": [0, 1, 2, 3]},
                                },
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "Set"}, **ERRORS},
            },
        },
        "/api/tokens": {
            **_get("API tokens (admin)."),
            "post": {
                "summary": "Create an API token (admin); the token is shown only in this answer.",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name", "role"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "role": {"type": "string", "enum": ["admin", "guest"]},
                                },
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "Created"}, **ERRORS},
            },
        },
        "/api/tokens/{token_id}": {
            "delete": {
                "summary": "Revoke a token (admin).",
                "parameters": [
                    {
                        "name": "token_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": {"description": "Revoked"}, **ERRORS},
            }
        },
        "/api/names/{kind}/{name}": {
            "delete": {
                "summary": "Delete every event and rollup of one name (admin).",
                "parameters": NAME_PARAMS,
                "responses": {"200": {"description": "Deleted"}, **ERRORS},
            }
        },
    }
    for path, summary in per_name.items():
        params = (
            [*NAME_PARAMS, RANGE]
            if path != "heatmap"
            else [
                *NAME_PARAMS,
                {
                    "name": "days",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 366},
                },
            ]
        )
        paths[f"/api/names/{{kind}}/{{name}}/{path}"] = _get(summary, params)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Lookout dashboard API", "version": "1"},
        "servers": [{"url": base}],
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "lookout_session"},
            }
        },
        "security": [{"token": []}, {"session": []}],
        "paths": paths,
    }
