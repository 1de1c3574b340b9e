"""Every dashboard route refuses what it cannot hold with a 4xx and a JSON error, never a 500,
on every database: bodies over the limit (413), NUL bytes anywhere and over-deep JSON (400)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from lookout import Lookout, make_event
from lookout.dashboard import create_app
from tests.dashboard.helpers import post_login

PASSWORD = "limits admin password"
LIMIT = 1024 * 1024  # the default
QUESTIONS = (
    "timeseries",
    "heatmap",
    "versions",
    "groups",
    "statuses",
    "outliers",
    "profile",
    "tracked",
)


@pytest.fixture
def dashboard(store_url: str) -> tuple[Flask, FlaskClient, dict[str, str]]:
    lk = Lookout(store=store_url)
    lk.emit(make_event("request", "shop.item", duration_ns=1_000_000))
    lk.close()
    app = create_app(store_url, admin_password=PASSWORD)
    client = app.test_client()
    assert post_login(client, "admin", PASSWORD).status_code == 302
    csrf = client.get("/dashboard/api/me").get_json()["csrf"]
    return app, client, {"X-CSRF-Token": csrf}


def _json_error(answer: Any, status: int) -> str:
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    body = answer.get_json()
    assert body["status"] == status
    return str(body["error"])


def test_nul_in_a_path_or_query_is_a_400_on_every_route(dashboard: Any) -> None:
    _, client, headers = dashboard
    for question in QUESTIONS:
        _json_error(client.get(f"/dashboard/api/names/request/a%00b/{question}"), 400)
        _json_error(client.get(f"/dashboard/api/names/request/%00/{question}"), 400)
        _json_error(client.get(f"/dashboard/api/names/request/shop.item/{question}?range=%00"), 400)
    _json_error(client.delete("/dashboard/api/names/request/x%00", headers=headers), 400)
    _json_error(client.delete("/dashboard/api/tokens/%00", headers=headers), 400)
    _json_error(client.get("/dashboard/api/overview?kind%00=1"), 400)
    assert client.get("/dashboard/detail/request/a%00b").status_code == 400  # pages too
    # what the check lets through still works
    ok = client.get("/dashboard/api/names/request/shop.item/timeseries?range=24h")
    assert ok.status_code == 200 and ok.get_json()["points"]


def test_nul_in_a_body_is_a_400(dashboard: Any) -> None:
    _, client, headers = dashboard
    for body in (
        {"name": "a\x00b", "role": "guest"},
        {"name\x00": "a", "role": "guest"},
    ):
        message = _json_error(client.post("/dashboard/api/tokens", json=body, headers=headers), 400)
        assert "NUL" in message
    raw = b'{"name": "a\x00", "role": "guest"}'
    _json_error(
        client.post(
            "/dashboard/api/tokens", data=raw, content_type="application/json", headers=headers
        ),
        400,
    )
    _json_error(
        client.post(
            "/dashboard/api/levels",
            json={"app": "x\x00", "endpoint": "e", "level": 1},
            headers=headers,
        ),
        400,
    )
    login = client.post("/dashboard/login", data={"username": "admin\x00", "password": "x"})
    _json_error(login, 400)


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_over_deep_json_is_a_400(dashboard: Any, depth: int) -> None:
    _, client, headers = dashboard
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        answer = client.post(
            "/dashboard/api/tokens", data=text, content_type="application/json", headers=headers
        )
        assert "nested deeper" in _json_error(answer, 400)
    shallow = {"name": "ci", "role": "guest"}
    assert client.post("/dashboard/api/tokens", json=shallow, headers=headers).status_code == 200


def test_a_body_over_the_limit_is_a_413_with_a_json_error(dashboard: Any) -> None:
    _, client, headers = dashboard
    big = json.dumps({"name": "x" * LIMIT, "role": "guest"})
    answer = client.post(
        "/dashboard/api/tokens", data=big, content_type="application/json", headers=headers
    )
    assert f"larger than {LIMIT} bytes" in _json_error(answer, 413)
    # before login too: the login form is no way around it
    login = client.post("/dashboard/login", data={"password": "x" * LIMIT})
    _json_error(login, 413)
    just_under = json.dumps({"name": "x" * (LIMIT - 100), "role": "guest"})
    fits = client.post(
        "/dashboard/api/tokens", data=just_under, content_type="application/json", headers=headers
    )
    assert fits.status_code == 200


@pytest.fixture
def live(sqlite_url: str) -> Iterator[tuple[int, str]]:
    app = create_app(sqlite_url, admin_password=PASSWORD, max_body_bytes=64 * 1024)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = _token(app)
    yield server.port, token
    server.shutdown()


def _token(app: Flask) -> str:
    client = app.test_client()
    assert post_login(client, "admin", PASSWORD).status_code == 302
    csrf = client.get("/dashboard/api/me").get_json()["csrf"]
    created = client.post(
        "/dashboard/api/tokens", json={"name": "t", "role": "admin"}, headers={"X-CSRF-Token": csrf}
    )
    return str(created.get_json()["token"])


def test_a_chunked_body_over_the_limit_is_a_413_over_real_http(live: tuple[int, str]) -> None:
    port, token = live
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    chunks = (b"x" * 8192 for _ in range(9))  # 72 KiB (limit: 64 KiB), no Content-Length
    connection.request(
        "POST",
        "/dashboard/api/tokens",
        body=chunks,
        encode_chunked=True,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    answer = connection.getresponse()
    assert answer.status == 413, answer.read()
    assert json.loads(answer.read())["status"] == 413
    connection.close()
