"""The Tests page and its API: test runs submitted by the pytest plugin, and the questions the
page and the CI gate ask about them (:mod:`lookout.testruns.queries`; every route is in the
OpenAPI document through :mod:`lookout.dashboard.tests_spec`).

Writing (``POST /api/tests/runs``) takes an admin: in CI, an API token with the admin role
(``Authorization: Bearer``), which skips the CSRF check as every token does. The body is a run
document, plain JSON or gzipped (``Content-Encoding: gzip``, as the plugin sends it).
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from lookout.dashboard.api import ApiError, params, parse_range
from lookout.dashboard.context import admin_only, current
from lookout.testruns import document, latency, queries, records

#: The largest run accepted, decompressed (a 10,000-test suite repeated 10 times is ~3 MB).
MAX_RUN_BYTES = 64 * 1024 * 1024
DEFAULT_RANGE_S = 30 * 86400


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/tests", "tests_page", page, methods=["GET"])
    blueprint.add_url_rule("/api/tests/runs", "api_submit_run", submit_run, methods=["POST"])
    blueprint.add_url_rule("/api/tests/runs", "api_test_runs", runs, methods=["GET"])
    blueprint.add_url_rule("/api/tests/samples", "api_test_samples", samples, methods=["GET"])
    blueprint.add_url_rule("/api/tests/history", "api_test_history", history, methods=["GET"])
    blueprint.add_url_rule("/api/tests/slowest", "api_test_slowest", slowest, methods=["GET"])
    blueprint.add_url_rule("/api/tests/changes", "api_test_changes", changes, methods=["GET"])
    blueprint.add_url_rule("/api/tests/flaky", "api_test_flaky", flaky, methods=["GET"])
    blueprint.add_url_rule("/api/tests/failures", "api_test_failures", failures, methods=["GET"])
    blueprint.add_url_rule("/api/tests/failure", "api_test_failure", failure, methods=["GET"])
    blueprint.add_url_rule("/api/tests/endpoints", "api_test_endpoints", endpoints, methods=["GET"])


def page() -> str:
    return current().page("tests.html", page_name="tests")


# -- writing -----------------------------------------------------------------------------------
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


# -- reading -----------------------------------------------------------------------------------
def _window(extra: dict[str, Callable[[str], Any]] | None = None) -> tuple[dict[str, Any], int]:
    """The parameters every window question takes (range, branch) plus ``extra``, and the
    window's start in nanoseconds."""
    args = params({"range": parse_range, "branch": str, **(extra or {})})
    since_ns = time.time_ns() - args.get("range", DEFAULT_RANGE_S) * 1_000_000_000
    return args, since_ns


def _required(args: dict[str, Any], name: str) -> Any:
    if not args.get(name):
        raise ApiError(400, f"parameter {name!r} is required")
    return args[name]


def _resolving(question: Callable[[], Any]) -> Any:
    try:
        return question()
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None


def _bounded(low: float, high: float, kind: type = float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if not low <= value <= high:
            raise ValueError(text)
        return value

    return parse


def runs() -> Response:
    args, since_ns = _window()
    store = current().store()
    return jsonify(queries.runs_over_time(store, since_ns=since_ns, branch=args.get("branch")))


def samples() -> Response:
    """Every passed test's call durations over the runs a reference names (the gate's base)."""
    args = params({"ref": str})
    store = current().store()
    found = _resolving(lambda: records.resolve(store, _required(args, "ref")))
    tests = records.durations_by_test(store, found.run_ids)
    return jsonify({"label": found.label, "run_ids": list(found.run_ids), "tests": tests})


def history() -> Response:
    args, since_ns = _window({"name": str})
    name = _required(args, "name")
    store = current().store()
    return jsonify(queries.history(store, name, since_ns=since_ns, branch=args.get("branch")))


def slowest() -> Response:
    args = params({"ref": str, "limit": _bounded(1, 500, int)})
    store = current().store()
    ref, limit = args.get("ref") or "latest", args.get("limit", 20)
    return jsonify(_resolving(lambda: queries.slowest(store, ref, limit=limit)))


def changes() -> Response:
    args = params(
        {
            "base": str,
            "head": str,
            "alpha": _bounded(1e-9, 0.5),
            "min_change": _bounded(0.0, 100.0),
        }
    )
    base = _required(args, "base")
    store = current().store()
    options = {key: args[key] for key in ("alpha", "min_change") if key in args}
    head = args.get("head") or "latest"
    return jsonify(_resolving(lambda: queries.changes(store, base, head, **options)))


def flaky() -> Response:
    args, since_ns = _window()
    rows = queries.flaky(current().store(), since_ns=since_ns, branch=args.get("branch"))
    return jsonify({"tests": rows})


def failures() -> Response:
    args = params({"ref": str})
    store = current().store()
    return jsonify(_resolving(lambda: queries.failures(store, args.get("ref") or "latest")))


def failure() -> Response:
    args = params({"run": _bounded(1, 2**62, int), "name": str})
    run_id, name = _required(args, "run"), _required(args, "name")
    found = queries.failure(current().store(), run_id, name)
    if found is None:
        raise ApiError(404, f"run {run_id} has no test {name!r}")
    return jsonify(found)


def endpoints() -> Response:
    args, since_ns = _window()
    rows = latency.endpoint_latency(current().store(), since_ns=since_ns, branch=args.get("branch"))
    return jsonify({"endpoints": rows})
