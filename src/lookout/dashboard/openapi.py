"""The OpenAPI 3.1 document of the dashboard's JSON API, served at ``/api/openapi.json``.

Each view module documents its own routes in an ``openapi_paths()`` function (built from
:mod:`lookout.dashboard.spec`); this module merges them, one line per module in
``PATH_SOURCES``. tests/dashboard/test_openapi.py checks that every API route is documented and
runs schemathesis against a live dashboard: every answer must match its schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from lookout.dashboard import (
    admin_views,
    app_openapi,
    data_views,
    error_openapi,
    explorer_views,
    profile_views,
    report_views,
    tests_spec,
)
from lookout.dashboard.context import BLUEPRINT_NAME
from lookout.dashboard.spec import COMPONENT_SCHEMAS, operation

#: Every view module's paths; a new view module adds one line here.
PATH_SOURCES: tuple[Callable[[], dict[str, Any]], ...] = (
    data_views.openapi_paths,
    admin_views.openapi_paths,
    report_views.openapi_paths,
    tests_spec.openapi_paths,
    explorer_views.openapi_paths,
    app_openapi.openapi_paths,
    profile_views.openapi_paths,
    error_openapi.openapi_paths,
)


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/api/openapi.json", "openapi", openapi, methods=["GET"])


def openapi() -> Response:
    return jsonify(openapi_document(url_for(f"{BLUEPRINT_NAME}.overview").rstrip("/")))


def openapi_paths() -> dict[str, Any]:
    return {
        "/api/openapi.json": {
            "get": operation("This document.", {"type": "object", "required": ["openapi"]})
        }
    }


def openapi_document(base: str) -> dict[str, Any]:
    paths: dict[str, Any] = openapi_paths()
    for source in PATH_SOURCES:
        for path, operations in source().items():
            paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Lookout dashboard API", "version": "1"},
        "servers": [{"url": base}],
        "components": {
            "schemas": COMPONENT_SCHEMAS,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "lookout_session"},
            },
        },
        "security": [{"token": []}, {"session": []}],
        "paths": dict(sorted(paths.items())),
    }
