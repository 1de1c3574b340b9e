"""The Tests API: test runs submitted by the pytest plugin, and the questions the Tests page and
the CI gate ask about them (every view is in the OpenAPI document too).

Writing (``POST /api/tests/runs``) takes an admin: in CI, an API token with the admin role
(``Authorization: Bearer``), which skips the CSRF check as every token does.
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from flask import Blueprint, Response, jsonify, request

from lookout.dashboard.api import ApiError, params
from lookout.dashboard.context import admin_only, current
from lookout.dashboard.spec import (
    BOOLEAN,
    INTEGER,
    STRING,
    TEXT,
    array,
    obj,
    operation,
    query,
)
from lookout.testruns import document, records

#: The largest run accepted, decompressed (a 10,000-test suite repeated 10 times is ~3 MB).
MAX_RUN_BYTES = 64 * 1024 * 1024


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/api/tests/runs", "api_submit_run", submit_run, methods=["POST"])
    blueprint.add_url_rule("/api/tests/samples", "api_test_samples", samples, methods=["GET"])


def _body() -> Any:
    raw = request.get_data(cache=False)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            raw = decompressor.decompress(raw, MAX_RUN_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile):
            raise ApiError(400, "the body is not valid gzip") from None
    if len(raw) > MAX_RUN_BYTES:
        raise ApiError(413, f"a run may hold at most {MAX_RUN_BYTES} bytes of JSON")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "expected a JSON run document") from None


def submit_run() -> Response:
    """Store one run document; 201 when new, 200 when that run was already stored."""
    admin_only()
    try:
        run = document.parse(_body())
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    run_id, created = records.save_run(current().store(), run)
    response = jsonify({"run_id": run_id, "created": created, "tests": len(run.results)})
    response.status_code = 201 if created else 200
    return response


def samples() -> Response:
    """Every passed test's call durations over the runs a reference names (the gate's base)."""
    args = params({"ref": str})
    if "ref" not in args:
        raise ApiError(400, "parameter 'ref' is required")
    store = current().store()
    try:
        found = records.resolve(store, args["ref"])
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    tests = records.durations_by_test(store, found.run_ids)
    return jsonify({"label": found.label, "run_ids": list(found.run_ids), "tests": tests})


REF_HELP = (
    "A version, a commit (or its prefix of 7+ characters), a branch (its latest run), "
    "run:ID, latest or latest:BRANCH."
)


def openapi_paths() -> dict[str, Any]:
    """This module's routes in the OpenAPI document, with the exact schemas of their answers."""
    ref = {**query("ref", TEXT, REF_HELP), "required": True}
    submit = operation(
        "Store a test run sent by the pytest plugin (admin; the body may be gzipped). "
        "A run already stored (same key) is not stored again.",
        obj({"run_id": INTEGER, "created": BOOLEAN, "tests": INTEGER}),
        body={"type": "object", "description": "A run document (docs/tests.md)."},
        error_codes=("403",),
    )
    stored = submit["responses"]["200"]
    submit["responses"]["201"] = {**stored, "description": "Stored"}
    stored["description"] = "That run was already stored"
    return {
        "/api/tests/runs": {"post": submit},
        "/api/tests/samples": {
            "get": operation(
                "Every passed test's call durations (ns) over the runs a reference names: "
                "the baseline of the plugin's gate when it has no store of its own.",
                obj(
                    {
                        "label": STRING,
                        "run_ids": array(INTEGER),
                        "tests": {"type": "object", "additionalProperties": array(INTEGER)},
                    }
                ),
                params=[ref],
                error_codes=("404",),
            )
        },
    }
