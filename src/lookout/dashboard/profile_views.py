"""Profiles as flame graphs: an endpoint's profiled requests merged, or one request's profile.

The trees come from :mod:`lookout.store.profiles` (level 3's sampled stacks, from the view's
own frame down, per function with its lines); ``static/flame.js`` draws them as a Plotly
icicle with hover details, search and zoom. See docs/profiles.md.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify

from lookout.dashboard import explorer
from lookout.dashboard.api import KINDS, ApiError, params, parse_range
from lookout.dashboard.context import current
from lookout.dashboard.spec import (
    BOOLEAN,
    CALL_NODE,
    INTEGER,
    NAME_PARAMS,
    NUMBER,
    NUMBER_OR_NULL,
    RANGE,
    STRING,
    STRING_OR_NULL,
    TEXT,
    nullable,
    obj,
    operation,
    path_param,
    query,
)
from lookout.store.profiles import (
    DEFAULT_REQUESTS,
    MAX_REQUESTS,
    MIN_SHARE,
    CallNode,
    Profiled,
    profile_tree,
    profiled,
)

DAY = 86400


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(
        "/profile/event/<int:event_id>", "event_flame_page", event_flame_page, methods=["GET"]
    )
    blueprint.add_url_rule("/profile/<kind>/<name:name>", "flame_page", flame_page)
    blueprint.add_url_rule("/api/profiles/event/<int:event_id>", "api_event_flame", api_event_flame)
    blueprint.add_url_rule("/api/profiles/<kind>/<name:name>", "api_flame", api_flame)


def flame_page(kind: str, name: str) -> str:
    if kind not in KINDS:
        abort(404)
    return current().page("profile.html", page_name="profile", kind=kind, name=name, event_id="")


def event_flame_page(event_id: int) -> str:
    return current().page(
        "profile.html", page_name="profile", kind="", name="", event_id=str(event_id)
    )


def _limit(value: str) -> int:
    limit = int(value)
    if not 1 <= limit <= MAX_REQUESTS:
        raise ValueError(value)
    return limit


def _version(value: str) -> str:
    """A version filter ('' is "no version set")."""
    if len(value) > 64 or "\x00" in value:
        raise ValueError(value)
    return value


def api_flame(kind: str, name: str) -> Response:
    """The merged tree of a name's profiled requests (only requests are profiled)."""
    if kind not in KINDS:
        raise ApiError(404, f"kind must be one of {', '.join(KINDS)}")
    args = params({"range": parse_range, "limit": _limit, "version": _version})
    since_s = args.get("range", DAY)
    limit = args.get("limit", DEFAULT_REQUESTS)
    store = current().store()
    if kind == "request":
        found = profiled(store, name, since_s=since_s, limit=limit, version=args.get("version"))
    else:
        found = Profiled(CallNode(name), 0)  # calls, runs and metrics have no profiles
    return jsonify(
        {
            "kind": kind,
            "name": name,
            "requests": found.requests,
            "truncated": found.truncated,
            "limit": limit,
            "range_s": since_s,
            "wall_ms": round(found.wall_ms, 3),
            "cpu_ms": None if found.cpu_ms is None else round(found.cpu_ms, 3),
            "event": None,
            "tree": found.root.to_dict(found.root.total_ms * MIN_SHARE),
        }
    )


def api_event_flame(event_id: int) -> Response:
    """One request's tree, with its CPU time and (for an outlier) the process's memory."""
    params({})
    event = explorer.event(current().store(), event_id)
    if event is None:
        raise ApiError(404, f"no event {event_id}")
    fields = event["fields"]
    root = profile_tree(event["name"], fields)
    outlier = fields.get("outlier")
    outlier = outlier if isinstance(outlier, dict) else {}
    cpu = fields.get("profile_cpu_ms", outlier.get("cpu_ms"))
    memory = outlier.get("memory_rss_bytes")
    return jsonify(
        {
            "kind": event["kind"],
            "name": event["name"],
            "requests": 1 if root.children else 0,
            "truncated": False,
            "limit": 1,
            "range_s": None,
            "wall_ms": event["duration_ms"],
            "cpu_ms": _number(cpu),
            "event": {
                "id": event_id,
                "start_ns": event["start_ns"],
                "request_id": event["request_id"],
                "status": event["status"],
                "host": event["host"],
                "version": event["version"],
                "interval_ms": _number(fields.get("profile_interval_ms")),
                "memory_rss_bytes": memory if isinstance(memory, int) else None,
                "outlier": bool(outlier),
            },
            "tree": root.to_dict(root.total_ms * MIN_SHARE),
        }
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def openapi_paths() -> dict[str, Any]:
    """This module's routes in the OpenAPI document."""
    event = obj(
        {
            "id": INTEGER,
            "start_ns": INTEGER,
            "request_id": STRING_OR_NULL,
            "status": {"type": ["integer", "null"]},
            "host": STRING,
            "version": STRING,
            "interval_ms": NUMBER_OR_NULL,
            "memory_rss_bytes": {"type": ["integer", "null"]},
            "outlier": BOOLEAN,
        }
    )
    answer = obj(
        {
            "kind": STRING,
            "name": STRING,
            "requests": INTEGER,
            "truncated": BOOLEAN,
            "limit": INTEGER,
            "range_s": {"type": ["integer", "null"]},
            "wall_ms": NUMBER,
            "cpu_ms": NUMBER_OR_NULL,
            "event": nullable(event),
            "tree": CALL_NODE,
        }
    )
    limit = query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_REQUESTS},
        f"The newest profiled requests merged at most (default {DEFAULT_REQUESTS}).",
    )
    return {
        "/api/profiles/{kind}/{name}": {
            "get": operation(
                "A name's profiled requests (level 3) merged into one call tree, from the "
                "view's own frame down, per function with the time at each of its lines; "
                "frames under 0.1 % of the sampled time are folded into one per parent.",
                answer,
                params=[
                    *NAME_PARAMS,
                    RANGE,
                    limit,
                    query("version", {**TEXT, "maxLength": 64}, "Only this app version."),
                ],
                error_codes=("404",),
            )
        },
        "/api/profiles/event/{event_id}": {
            "get": operation(
                "One request's call tree, with its CPU time and, for an outlier, the "
                "process's memory at the time.",
                answer,
                params=[path_param("event_id", INTEGER, "The event's id.")],
                error_codes=("404",),
            )
        },
    }
