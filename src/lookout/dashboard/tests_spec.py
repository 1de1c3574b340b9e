"""The Tests API in the OpenAPI document: every route of :mod:`lookout.dashboard.tests_views`,
with the exact schema of its answer (tests/dashboard/test_tests_views.py validates real
answers against these schemas)."""

from __future__ import annotations

from typing import Any

from lookout.dashboard.spec import (
    BOOLEAN,
    INTEGER,
    INTEGER_OR_NULL,
    NUMBER,
    NUMBER_OR_NULL,
    RANGE,
    STRING,
    STRING_OR_NULL,
    TEXT,
    Schema,
    array,
    obj,
    operation,
    query,
)

REF_HELP = (
    "A version, a commit (or its prefix of 7+ characters), a branch (its latest run), "
    "run:ID, latest or latest:BRANCH."
)
BRANCH = query("branch", TEXT, "Only the runs of this branch.")
SPREAD: dict[str, Schema] = {
    "n": INTEGER,
    "median_ms": NUMBER_OR_NULL,
    "p25_ms": NUMBER_OR_NULL,
    "p75_ms": NUMBER_OR_NULL,
    "min_ms": NUMBER_OR_NULL,
    "max_ms": NUMBER_OR_NULL,
}
RUN = obj(
    {
        "id": INTEGER,
        "key": STRING,
        "started_ns": INTEGER,
        "duration_ms": NUMBER,
        "version": STRING,
        "commit": STRING,
        "branch": STRING,
        "dirty": BOOLEAN,
        "ci_provider": STRING,
        "ci_url": STRING_OR_NULL,
        "tests": INTEGER,
        "failed": INTEGER,
        "exit_status": INTEGER,
        "repeat": INTEGER,
    }
)
COUNTS = {"type": "object", "additionalProperties": INTEGER}
SIDE = obj({"label": STRING, "run_ids": array(INTEGER)})
CHANGE = obj(
    {
        "name": STRING,
        "base_ms": NUMBER_OR_NULL,
        "head_ms": NUMBER_OR_NULL,
        "change": NUMBER_OR_NULL,
        "p_value": NUMBER_OR_NULL,
        "base_n": INTEGER,
        "head_n": INTEGER,
        "verdict": {"type": "string", "enum": ["slower", "faster", "new", "gone", "failed"]},
    }
)


def _ref(required: bool) -> dict[str, Any]:
    if required:
        return _required("ref", TEXT, REF_HELP)
    return query("ref", TEXT, REF_HELP + " Default: latest.")


def _required(name: str, schema: Schema, text: str) -> dict[str, Any]:
    """A parameter the view needs: present and, for text, not empty."""
    if schema.get("type") == "string":
        schema = {**schema, "minLength": 1}
    return {**query(name, schema, text), "required": True}


def openapi_paths() -> dict[str, Any]:
    """This module's routes in the OpenAPI document."""
    submit = operation(
        "Store a test run sent by the pytest plugin (admin; plain or gzipped JSON). "
        "A run already stored (same key) is not stored again.",
        obj({"run_id": INTEGER, "created": BOOLEAN, "tests": INTEGER}),
        body={"type": "object", "description": "A run document (docs/tests.md)."},
        error_codes=("403",),
    )
    stored = submit["responses"]["200"]
    submit["responses"]["201"] = {**stored, "description": "Stored"}
    stored["description"] = "That run was already stored"
    window = [RANGE, BRANCH]
    return {
        "/api/tests/runs": {
            "post": submit,
            "get": operation(
                "The runs of the range, oldest first (the newest 500 at most), with the "
                "branches and versions seen.",
                obj(
                    {
                        "runs": array(RUN),
                        "branches": array(obj({"branch": STRING, "runs": INTEGER})),
                        "versions": array(STRING),
                    }
                ),
                params=window,
            ),
        },
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
                params=[_ref(True)],
                error_codes=("404",),
            )
        },
        "/api/tests/history": {
            "get": operation(
                "One test's call duration per version: the spread of every repeat of every "
                "passed run, and its outcomes.",
                obj(
                    {
                        "name": STRING,
                        "versions": array(
                            obj(
                                {
                                    "version": STRING,
                                    "runs": INTEGER,
                                    "passed": INTEGER,
                                    "failed": INTEGER,
                                    **SPREAD,
                                }
                            )
                        ),
                    }
                ),
                params=[_required("name", TEXT, "The test's node id."), *window],
            )
        },
        "/api/tests/slowest": {
            "get": operation(
                "The tests of the runs a reference names, slowest median call first, with the "
                "spread of their repeats.",
                obj(
                    {
                        "label": STRING,
                        "run_ids": array(INTEGER),
                        "tests": array(
                            obj(
                                {
                                    "name": STRING,
                                    **SPREAD,
                                    "setup_ms": NUMBER,
                                    "teardown_ms": NUMBER,
                                    "outcomes": COUNTS,
                                }
                            )
                        ),
                    }
                ),
                params=[
                    _ref(False),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                ],
                error_codes=("404",),
            )
        },
        "/api/tests/changes": {
            "get": operation(
                "Tests whose duration changed significantly from a baseline to a head "
                "(Mann-Whitney U over the repeats), slower first; unchanged tests counted.",
                obj(
                    {
                        "base": SIDE,
                        "head": SIDE,
                        "alpha": NUMBER,
                        "min_change": NUMBER,
                        "summary": STRING,
                        "unchanged": INTEGER,
                        "tests": array(CHANGE),
                    }
                ),
                params=[
                    _required("base", TEXT, "The baseline. " + REF_HELP),
                    query("head", TEXT, "Compared with the baseline (default latest)."),
                    query("alpha", {"type": "number", "minimum": 1e-9, "maximum": 0.5}),
                    query("min_change", {"type": "number", "minimum": 0, "maximum": 100}),
                ],
                error_codes=("404",),
            )
        },
        "/api/tests/flaky": {
            "get": operation(
                "Tests that both passed and failed within one version.",
                obj(
                    {
                        "tests": array(
                            obj(
                                {
                                    "version": STRING,
                                    "name": STRING,
                                    "passed": INTEGER,
                                    "failed": INTEGER,
                                    "last_failed_run": INTEGER_OR_NULL,
                                    "last_message": STRING_OR_NULL,
                                }
                            )
                        )
                    }
                ),
                params=window,
            )
        },
        "/api/tests/failures": {
            "get": operation(
                "The tests that failed in the runs a reference names, with their messages.",
                obj(
                    {
                        "label": STRING,
                        "run_ids": array(INTEGER),
                        "tests": array(
                            obj(
                                {
                                    "run_id": INTEGER,
                                    "name": STRING,
                                    "outcome": STRING,
                                    "message": STRING_OR_NULL,
                                }
                            )
                        ),
                    }
                ),
                params=[_ref(False)],
                error_codes=("404",),
            )
        },
        "/api/tests/failure": {
            "get": operation(
                "One test of one run whole: its message, traceback and durations.",
                obj(
                    {
                        "run": RUN,
                        "name": STRING,
                        "outcome": STRING,
                        "message": STRING_OR_NULL,
                        "traceback": STRING_OR_NULL,
                        "worker": STRING,
                        "setup_ms": NUMBER,
                        "teardown_ms": NUMBER,
                        "durations_ms": array(NUMBER),
                    }
                ),
                params=[
                    _required(
                        "run", {"type": "integer", "minimum": 1, "maximum": 2**62}, "The run's id."
                    ),
                    _required("name", TEXT, "The test's node id."),
                ],
                error_codes=("404",),
            )
        },
        "/api/tests/endpoints": {
            "get": operation(
                "Each Flask endpoint hit in tests, per version: its latency in the tests beside "
                "its production latency for that version (the origin rollups).",
                obj(
                    {
                        "endpoints": array(
                            obj(
                                {
                                    "endpoint": STRING,
                                    "methods": array(STRING),
                                    "version": STRING,
                                    "tests": INTEGER,
                                    "test_requests": INTEGER,
                                    "test_p50_ms": NUMBER_OR_NULL,
                                    "test_p95_ms": NUMBER_OR_NULL,
                                    "prod_requests": INTEGER,
                                    "prod_p50_ms": NUMBER_OR_NULL,
                                    "prod_p95_ms": NUMBER_OR_NULL,
                                }
                            )
                        )
                    }
                ),
                params=window,
            )
        },
    }
