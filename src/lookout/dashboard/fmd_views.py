"""Flask-MonitoringDashboard's ``POST <dashboard>/submit-test-results``, on Lookout's dashboard.

FMD's ``collect_performance`` posts its test results there (the README's
``SUBMIT_RESULTS_URL=http://host/dashboard/submit-test-results``); Lookout stores them as a
test run (:mod:`lookout.testruns.fmd`), shown on the Tests page. FMD took
the results from anyone; Lookout asks for an admin API token, sent the ways an unchanged FMD
script can send it: ``Authorization: Bearer <token>`` (Lookout's collect_performance, from
``LOOKOUT_TOKEN``), the password of the URL (``http://fmd:<token>@host/dashboard``, which
``requests`` sends as HTTP Basic) or ``?token=<token>`` in ``SUBMIT_RESULTS_URL``. It answers
204 as FMD did, with the run's id in ``X-Lookout-Run``. The route is outside ``/api/``, so it is
documented in docs/migrating/flask-monitoring-dashboard.md rather than in the OpenAPI document.
"""

from __future__ import annotations

import base64
import binascii
import json

from flask import Blueprint, Response, g, request

from lookout.dashboard.api import ApiError
from lookout.dashboard.auth import ADMIN, User
from lookout.dashboard.context import current
from lookout.testruns import records
from lookout.testruns.fmd import to_run

ENDPOINT = "fmd_submit_test_results"


def register(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/submit-test-results", ENDPOINT, submit_test_results, methods=["POST"])


def _token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return request.args.get("token") or None


def _user() -> User:
    """The admin sending this (the blueprint lets the route through unchecked: its token may
    come in forms the other routes do not take)."""
    context = current()
    if not context.options.auth:
        return User("local", ADMIN)
    token = _token()
    user = context.authenticator().user_from_token(f"Bearer {token}") if token else None
    if user is None:
        raise ApiError(
            401, "send an admin API token (Authorization: Bearer, or the URL's password)"
        )
    if not user.is_admin:
        raise ApiError(403, "only an admin token may submit test results")
    return user


def submit_test_results() -> Response:
    g.lookout_user = _user()
    try:
        raw = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "expected FMD's JSON document of test results") from None
    try:
        run = to_run(raw, host=request.remote_addr or "")
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    run_id, _created = records.save_run(current().store(), run)
    response = Response(status=204)
    response.headers["X-Lookout-Run"] = str(run_id)
    return response
