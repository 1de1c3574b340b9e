"""Who is logged in, and what admins change: monitoring levels, API
tokens, and deleting a name's data."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify

from lookout.dashboard import data
from lookout.dashboard.api import KINDS, ApiError, json_body, params
from lookout.dashboard.auth import ADMIN, GUEST, User
from lookout.dashboard.context import admin_only, current
from lookout.dashboard.spec import (
    BOOLEAN,
    INTEGER,
    NAME_PARAMS,
    STRING,
    TEXT,
    array,
    obj,
    operation,
    path_param,
)
from lookout.store import schema
from lookout.store.engine import SqlStore
from lookout.store.settings import read_settings, write_setting

LEVEL_PREFIX = "flask.level:"
ENDPOINTS_PREFIX = "flask.endpoints:"


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/api/me", "me", me, methods=["GET"])
    blueprint.add_url_rule("/api/levels", "api_levels", api_levels, methods=["GET"])
    blueprint.add_url_rule("/api/levels", "api_set_level", api_set_level, methods=["POST"])
    blueprint.add_url_rule("/api/tokens", "api_tokens", api_tokens, methods=["GET"])
    blueprint.add_url_rule("/api/tokens", "api_create_token", api_create_token, methods=["POST"])
    blueprint.add_url_rule(
        "/api/tokens/<token_id>", "api_revoke_token", api_revoke_token, methods=["DELETE"]
    )
    blueprint.add_url_rule(
        "/api/names/<kind>/<name:name>", "api_delete", api_delete, methods=["DELETE"]
    )


def me() -> Response:
    params({})
    user: User = g.lookout_user
    return jsonify({"user": user.name, "role": user.role, "csrf": user.csrf})


def api_levels() -> Response:
    params({})
    return jsonify({"apps": endpoint_levels(current().store())})


def api_set_level() -> Response:
    admin_only()
    body = json_body({"app": str, "endpoint": str, "level": int})
    if body["level"] not in (0, 1, 2, 3):
        raise ApiError(400, "level must be 0, 1, 2 or 3")
    store = current().store()
    apps = endpoint_levels(store)
    if body["app"] not in apps or body["endpoint"] not in apps[body["app"]]["endpoints"]:
        raise ApiError(404, "no such app and endpoint")
    extension = current_app.extensions.get("lookout")
    if extension is not None and getattr(extension.app, "name", None) == body["app"]:
        # this process follows at once (and installs the level 2-3 hook if needed)
        extension.levels.set_level(body["endpoint"], body["level"])
    else:  # another app sharing the store: it reads the change at its next refresh
        write_setting(store, f"{LEVEL_PREFIX}{body['app']}:{body['endpoint']}", str(body["level"]))
    return jsonify({"ok": True, **body})


def api_tokens() -> Response:
    admin_only()
    params({})
    return jsonify({"tokens": current().authenticator().tokens()})


def api_create_token() -> Response:
    admin_only()
    body = json_body({"name": str, "role": str})
    if body["role"] not in (ADMIN, GUEST):
        raise ApiError(400, "role must be 'admin' or 'guest'")
    token_id, token = current().authenticator().create_token(body["name"], body["role"])
    return jsonify({"id": token_id, "token": token, "note": "shown once; store it now"})


def api_revoke_token(token_id: str) -> Response:
    admin_only()
    if not current().authenticator().revoke_token(token_id):
        raise ApiError(404, "no such token")
    return jsonify({"ok": True})


def api_delete(kind: str, name: str) -> Response:
    """Delete every event and rollup of one name (an admin cleaning up)."""
    admin_only()
    if kind not in KINDS:
        raise ApiError(404, "no such kind")
    deleted = _delete_name(current().store(), kind, name)
    return jsonify({"ok": True, "deleted_events": deleted})


def endpoint_levels(store: SqlStore) -> dict[str, dict[str, Any]]:
    """Per Flask app using this store: its endpoints, default level and levels set."""
    apps: dict[str, dict[str, Any]] = {}
    for app, text in read_settings(store, ENDPOINTS_PREFIX).items():
        registry = json.loads(text)
        apps[app] = {
            "endpoints": list(registry.get("endpoints", [])),
            "default": int(registry.get("default_level", 1)),
            "levels": {},
        }
    for key, value in read_settings(store, LEVEL_PREFIX).items():
        app, _, endpoint = key.partition(":")
        if app in apps and value.isdigit():
            apps[app]["levels"][endpoint] = int(value)
    return apps


def _delete_name(store: SqlStore, kind: str, name: str) -> int:
    ident = data.name_id(store, kind, name)
    if ident is None:
        return 0
    with store.engine.begin() as connection:
        deleted = connection.execute(
            sa.delete(schema.events).where(schema.events.c.name_id == ident)
        ).rowcount
        for table in (
            schema.rollups_minute,
            schema.rollups_hour,
            *schema.ORIGIN_ROLLUP_TABLES.values(),
            schema.rollup_deltas,  # pending deltas of the name too (store/compaction.py)
        ):
            connection.execute(sa.delete(table).where(table.c.name_id == ident))
    return int(deleted or 0)


def openapi_paths() -> dict[str, Any]:
    """This module's routes in the OpenAPI document, with the exact schemas of their answers."""
    level = {"type": "integer", "enum": [0, 1, 2, 3]}
    app_levels = obj(
        {
            "endpoints": array(STRING),
            "default": INTEGER,
            "levels": {"type": "object", "additionalProperties": INTEGER},
        }
    )
    role = {"type": "string", "enum": [ADMIN, GUEST]}
    token = obj({"id": STRING, "name": STRING, "role": STRING, "created_ns": INTEGER})
    return {
        "/api/me": {
            "get": operation(
                "Who is logged in, their role and CSRF token.",
                obj({"user": STRING, "role": role, "csrf": STRING}),
            )
        },
        "/api/levels": {
            "get": operation(
                "Monitoring levels per Flask app and endpoint.",
                obj({"apps": {"type": "object", "additionalProperties": app_levels}}),
            ),
            "post": operation(
                "Set an endpoint's monitoring level (admin).",
                obj({"ok": BOOLEAN, "app": STRING, "endpoint": STRING, "level": level}),
                body=obj({"app": TEXT, "endpoint": TEXT, "level": level}),
                error_codes=("403", "404"),
            ),
        },
        "/api/tokens": {
            "get": operation(
                "API tokens (admin).", obj({"tokens": array(token)}), error_codes=("403",)
            ),
            "post": operation(
                "Create an API token (admin); the token is shown only in this answer.",
                obj({"id": STRING, "token": STRING, "note": STRING}),
                body=obj({"name": TEXT, "role": role}),
                error_codes=("403",),
            ),
        },
        "/api/tokens/{token_id}": {
            "delete": operation(
                "Revoke a token (admin).",
                obj({"ok": BOOLEAN}),
                params=[path_param("token_id", {**TEXT, "minLength": 1})],
                error_codes=("403", "404"),
            )
        },
        "/api/names/{kind}/{name}": {
            "delete": operation(
                "Delete every event and rollup of one name (admin).",
                obj({"ok": BOOLEAN, "deleted_events": INTEGER}),
                params=NAME_PARAMS,
                error_codes=("403", "404"),
            )
        },
    }
