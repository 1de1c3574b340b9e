"""The OpenAPI document is exact: every API route and method documented, nothing stale, and
(schemathesis, below) every answer of a live dashboard matching its schema."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from lookout.dashboard import create_app
from tests.dashboard.helpers import post_login

PASSWORD = "openapi admin password"


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    return create_app(sqlite_url, admin_password=PASSWORD)


def _document(app: Flask) -> dict[str, Any]:
    client = app.test_client()
    assert post_login(client, "admin", PASSWORD).status_code == 302
    answer = client.get("/dashboard/api/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.get_json()
    return document


def _served(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every JSON API route the app serves."""
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/dashboard/api/") or rule.endpoint.endswith(".api_unknown"):
            continue  # the catch-all answering unknown API paths with a JSON 404
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/dashboard"))
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                served.add((path, method.lower()))
    return served


def test_every_api_route_and_method_is_documented_and_nothing_else(app: Flask) -> None:
    document = _document(app)
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == _served(app)


def test_every_operation_documents_its_answers_and_errors(app: Flask) -> None:
    document = _document(app)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"200", "400", "401", "413"} <= set(responses), (path, method)
            content = responses["200"]["content"]  # JSON, or a streamed export's formats
            assert content and all("schema" in answer for answer in content.values()), path
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (path, method)
    outliers = document["paths"]["/api/names/{kind}/{name}/outliers"]["get"]
    assert outliers["responses"]["200"]["content"]["application/json"]["schema"]["type"] == (
        "array"
    )


def test_unknown_api_paths_and_odd_names_answer_json(app: Flask) -> None:
    client = app.test_client()
    assert post_login(client, "admin", PASSWORD).status_code == 302
    for path in ("/dashboard/api/nothing/here", "/dashboard/api/explorer/events/-3"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.is_json, path
        assert "no such API route" in answer.get_json()["error"]
    # a name with a line break reaches its view (an unknown name: the view's own 404 or data)
    answer = client.get("/dashboard/api/names/request/two%0Alines/timeseries")
    assert answer.is_json and "no such API route" not in answer.get_data(as_text=True)
    assert client.delete("/dashboard/api/nothing").status_code in (403, 404)
