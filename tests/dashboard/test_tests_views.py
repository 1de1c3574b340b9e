"""The Tests page and its API over a real store (runs stored through the API itself, as the
plugin sends them): each answer is what the queries say and matches its OpenAPI schema exactly;
writing takes an admin token; bad parameters and unknown runs say what is wrong."""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient

from lookout.dashboard import create_app
from lookout.dashboard.auth import Authenticator
from lookout.dashboard.openapi import openapi_document
from lookout.store.engine import SqlStore
from tests.testruns.test_queries import _history, _production

PASSWORD = "tests page admin password"


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    _production(sqlite_url)
    return create_app(sqlite_url, admin_password=PASSWORD)


@pytest.fixture
def tokens(app: Flask, sqlite_url: str) -> dict[str, str]:
    store = SqlStore(sqlite_url)
    auth = Authenticator(store, enabled=True)
    found = {role: auth.create_token(role, role)[1] for role in ("admin", "guest")}
    store.close()
    return found


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(app: Flask, tokens: dict[str, str]) -> FlaskClient:
    """A client whose runs were submitted through the API: two gzipped, two plain JSON."""
    client = app.test_client()
    for index, run in enumerate(_history(random.Random(11))):
        body = run.to_json().encode()
        headers = _bearer(tokens["admin"]) | {"Content-Type": "application/json"}
        if index % 2:
            body, headers = gzip.compress(body), headers | {"Content-Encoding": "gzip"}
        answer = client.post("/dashboard/api/tests/runs", data=body, headers=headers)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        assert answer.get_json() == {"run_id": index + 1, "created": True, "tests": 3}
    return client


def _schema(path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    operation = openapi_document("")["paths"][path][method]
    schema: dict[str, Any] = operation["responses"][status]["content"]["application/json"]
    return schema["schema"]


def get(client: FlaskClient, token: str, path: str, status: int = 200, **query: Any) -> Any:
    answer = client.get(f"/dashboard{path}", query_string=query, headers=_bearer(token))
    assert answer.status_code == status, answer.get_data(as_text=True)
    found = answer.get_json()
    if status == 200:
        jsonschema.validate(found, _schema(path))  # the documented schema, exactly
    return found


def test_every_question_answers_as_documented(client: FlaskClient, tokens: dict[str, str]) -> None:
    guest = tokens["guest"]  # reading needs no admin
    runs = get(client, guest, "/api/tests/runs")
    assert [r["key"] for r in runs["runs"]] == ["a", "b", "c", "d"]
    assert get(client, guest, "/api/tests/runs", branch="feature/x")["runs"][0]["key"] == "d"
    history = get(client, guest, "/api/tests/history", name="t.py::test_search")
    assert [v["version"] for v in history["versions"]] == ["1.0", "1.1"]
    slowest = get(client, guest, "/api/tests/slowest", ref="1.1", limit=2)
    assert [t["name"] for t in slowest["tests"]] == ["t.py::test_search", "t.py::test_steady"]
    changes = get(client, guest, "/api/tests/changes", base="1.0", head="1.1")
    assert [(t["name"], t["verdict"]) for t in changes["tests"]] == [
        ("t.py::test_search", "slower")
    ]
    assert changes["tests"][0]["p_value"] < 0.001
    strict = get(client, guest, "/api/tests/changes", base="1.0", head="1.1", min_change=1)
    assert strict["tests"] == [] and strict["unchanged"] == 3
    [flaky] = get(client, guest, "/api/tests/flaky")["tests"]
    assert flaky["name"] == "t.py::test_flaky"
    failures = get(client, guest, "/api/tests/failures", ref="run:b")
    assert [t["name"] for t in failures["tests"]] == ["t.py::test_flaky"]
    whole = get(
        client, guest, "/api/tests/failure", run=flaky["last_failed_run"], name=flaky["name"]
    )
    assert "AssertionError: timed out" in whole["traceback"]
    endpoints = get(client, guest, "/api/tests/endpoints")["endpoints"]
    assert [(e["endpoint"], e["version"], e["prod_requests"]) for e in endpoints] == [
        ("search", "1.0", 300),
        ("search", "1.1", 300),
    ]
    legacy = get(client, guest, "/api/tests")["rows"]
    assert [r["name"] for r in legacy] == [f"t.py::test_{n}" for n in ("search", "steady", "flaky")]
    samples = get(client, guest, "/api/tests/samples", ref="latest")
    assert len(samples["tests"]["t.py::test_search"]) == 8


def test_bad_parameters_and_unknown_runs_say_what_is_wrong(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    admin = tokens["admin"]
    assert "'name' is required" in get(client, admin, "/api/tests/history", 400)["error"]
    assert "'base' is required" in get(client, admin, "/api/tests/changes", 400)["error"]
    assert (
        "no test run matches '2.0'"
        in get(client, admin, "/api/tests/changes", 404, base="2.0")["error"]
    )
    assert get(client, admin, "/api/tests/slowest", 400, limit=0)["error"].startswith("parameter")
    assert get(client, admin, "/api/tests/changes", 400, base="1.0", alpha=2)["status"] == 400
    assert get(client, admin, "/api/tests/runs", 400, range="3y")["status"] == 400
    assert get(client, admin, "/api/tests/failure", 404, run=1, name="nope")["status"] == 404
    assert get(client, admin, "/api/tests/failures", 404, ref="run:99")["status"] == 404
    assert get(client, admin, "/api/tests/flaky", 400, since=1)["error"].startswith("unknown")


def test_writing_takes_an_admin_and_a_run_is_stored_once(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    [run] = _history(random.Random(5))[:1]
    body = run.to_json()
    url = "/dashboard/api/tests/runs"
    refused = client.post(url, data=body, headers=_bearer(tokens["guest"]))
    assert refused.status_code == 403
    assert client.post(url, data=body).status_code == 401
    again = client.post(url, data=body, headers=_bearer(tokens["admin"]))
    assert again.status_code == 200 and again.get_json()["created"] is False  # key "a" is stored
    jsonschema.validate(again.get_json(), _schema("/api/tests/runs", "post"))
    bad = client.post(url, data=b'{"format": 1}', headers=_bearer(tokens["admin"]))
    assert bad.status_code == 400 and "format" in bad.get_json()["error"]
    broken = client.post(
        url, data=b"not gzip", headers=_bearer(tokens["admin"]) | {"Content-Encoding": "gzip"}
    )
    assert broken.status_code == 400 and "gzip" in broken.get_json()["error"]


def test_the_page_is_a_shell_for_its_own_script(app: Flask, client: FlaskClient) -> None:
    browser = app.test_client()
    login = browser.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token is not None
    browser.post(
        "/dashboard/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    page = browser.get("/dashboard/tests")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-page="tests"' in html and 'aria-current="page">Tests' in html
    for asset in ("static/tests.js", "static/tests.css", "vendor/plotly.min.js"):
        assert asset in html
        assert browser.get(f"/dashboard/{asset}").status_code == 200
    for section in ("runs-chart", "history-chart", "changes", "flaky", "failures", "endpoints"):
        assert f'id="{section}"' in html


def test_the_demo_history_holds_test_runs(tmp_path: Path) -> None:
    """lookout demo --dataset 7d writes the shop's test runs: the page's questions find 1.2's
    slower search test, and nothing else slower; the flaky checkout test is flaky."""
    import time

    from lookout.demo_data import generate
    from lookout.testruns import latency, queries

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    written = generate(url, requests_per_hour=40, now_s=int(time.time()))
    assert written.test_runs >= 7
    store = SqlStore(url)
    try:
        found = queries.changes(store, "1.1", "1.2")
        slower = [t["name"] for t in found["tests"] if t["verdict"] == "slower"]
        assert slower == ["tests/test_search.py::test_search_ranks_by_name"]
        assert {row["name"] for row in queries.flaky(store)} == {
            "tests/test_checkout.py::test_checkout_declined"
        }
        rows = latency.endpoint_latency(store)
        search = [r for r in rows if r["endpoint"] == "search"]
        assert {r["version"] for r in search} >= {"1.1", "1.2"}
        assert all(r["prod_requests"] > 0 for r in search)
    finally:
        store.close()
