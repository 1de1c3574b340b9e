"""The dashboard's pages and JSON API with Flask's test client, on every store backend:
roles, CSRF, rate limiting, hostile names and values, hostile parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from lookout import Lookout
from lookout.flask import LookoutFlask, add_metric
from tests.dashboard.helpers import form_token, post_login
from tests.receivers import Receiver

ADMIN_PASSWORD = "correct horse battery staple"
GUEST_PASSWORD = "guest pass"
XSS = '<img src=x onerror="alert(1)">'


@pytest.fixture
def shop(store_url: str) -> Iterator[tuple[Flask, Lookout]]:
    lk = Lookout(store=store_url, batch_interval=0.01, app_version="1.1")
    app = Flask("shop")
    LookoutFlask(
        app,
        lk,
        track_g=["cart"],
        group_by=lambda: g.get("user"),
        dashboard_admin_password=ADMIN_PASSWORD,
        dashboard_guest_passwords=[GUEST_PASSWORD, "second guest"],
        level_refresh_interval=0.05,
    )

    @app.get("/items/<int:item>")
    def item(item: int) -> str:
        g.user = f"user-{item % 3}"
        g.cart = {"items": item, "note": XSS}
        add_metric("CartValue", item * 10, "Count")
        return "ok"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError(XSS)

    app.add_url_rule("/evil", XSS, lambda: "evil")  # an endpoint named like markup
    client = app.test_client()
    for n in range(30):
        client.get(f"/items/{n}")
    client.get("/boom")
    client.get("/evil")
    app.extensions["lookout"].levels.refresh()  # registers the endpoints for the dashboard
    assert lk.flush(20)
    yield app, lk
    lk.close()


def login(client: FlaskClient, user: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    response = post_login(client, user, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    me = client.get("/dashboard/api/me").get_json()
    return str(me["csrf"])


def test_anonymous_sees_only_the_login(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    page = client.get("/dashboard/")
    assert page.status_code == 302 and "/dashboard/login" in page.headers["Location"]
    api = client.get("/dashboard/api/overview")
    assert api.status_code == 401 and "log in" in api.get_json()["error"]
    login_page = client.get("/dashboard/login")
    assert login_page.status_code == 200
    assert "script-src 'self'" in login_page.headers["Content-Security-Policy"]
    assert "<script>" not in login_page.get_data(as_text=True)  # no inline scripts anywhere


def test_admin_session_cookie_is_safe_and_the_overview_has_the_numbers(
    shop: tuple[Flask, Lookout],
) -> None:
    app, _ = shop
    client = app.test_client()
    response = post_login(client, "admin", ADMIN_PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard/" in cookie
    rows = {row["name"]: row for row in client.get("/dashboard/api/overview").get_json()["rows"]}
    item = rows["item"]
    assert (item["hits_1h"], item["hits_24h"], item["hits_7d"]) == (30, 30, 30)
    assert item["p50_ms"] is not None and item["p50_ms"] <= item["p99_ms"]
    assert item["error_rate"] == 0 and rows["boom"]["error_rate"] == 1
    assert sum(item["sparkline"]) == 30
    assert item["levels"] == [{"app": "shop", "level": 1}]
    assert not any(name.startswith("lookout_dashboard") for name in rows)  # not recorded


def test_detail_apis(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    login(client)
    base = "/dashboard/api/names/request/item"
    series = client.get(f"{base}/timeseries?range=1h").get_json()
    assert series["bucket_s"] == 60 and sum(p["count"] for p in series["points"]) == 30
    heat = client.get(f"{base}/heatmap").get_json()
    assert sum(map(sum, heat["counts"])) == 30
    [version] = client.get(f"{base}/versions").get_json()["rows"]
    assert (version["key"], version["count"]) == ("1.1", 30)
    groups = {r["key"]: r["count"] for r in client.get(f"{base}/groups").get_json()["rows"]}
    assert groups == {"user-0": 10, "user-1": 10, "user-2": 10}
    statuses = client.get(f"{base}/statuses").get_json()
    assert statuses["statuses"] == [{"status": "200", "count": 30}]
    assert statuses["clients"] == [{"client_ip": "127.0.0.1", "count": 30}]
    tracked = client.get(f"{base}/tracked").get_json()
    assert tracked["columns"] == ["cart"] and len(tracked["rows"]) == 30
    assert tracked["rows"][0]["values"]["cart"]["note"] == XSS  # data, escaped when shown
    [metric] = client.get("/dashboard/api/metrics").get_json()["metrics"]
    assert metric["name"] == "CartValue" and sum(p["sum"] for p in metric["points"]) == 4350
    system = client.get("/dashboard/api/system").get_json()
    assert system["store"]["rows"]["lookout_events"] >= 62
    assert system["recorder"]["sinks"]["sql"]["failed"] == 0
    assert system["alerts"] is None  # no rules in this process
    page = client.get("/dashboard/detail/request/item")
    assert page.status_code == 200 and 'data-name="item"' in page.get_data(as_text=True)


def test_hostile_names_come_back_escaped(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    login(client)
    endpoint = XSS
    page = client.get(f"/dashboard/detail/request/{endpoint}")
    html = page.get_data(as_text=True)
    assert XSS not in html  # never as markup...
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html  # ...only as text
    rows = client.get("/dashboard/api/overview").get_json()["rows"]
    assert endpoint in {row["name"] for row in rows}
    assert client.get("/dashboard/api/overview").headers["Content-Type"] == "application/json"


def test_guest_reads_but_cannot_change_anything(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    csrf = login(client, "guest", "second guest")
    assert client.get("/dashboard/api/overview").status_code == 200
    headers = {"X-CSRF-Token": csrf}
    change = client.post(
        "/dashboard/api/levels",
        json={"app": "shop", "endpoint": "item", "level": 3},
        headers=headers,
    )
    assert change.status_code == 403 and "admin" in change.get_json()["error"]
    assert (
        client.post(
            "/dashboard/api/tokens", json={"name": "x", "role": "admin"}, headers=headers
        ).status_code
        == 403
    )
    assert client.delete("/dashboard/api/names/request/item", headers=headers).status_code == 403


def test_admin_changes_a_level_with_csrf_and_the_app_follows(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    csrf = login(client)
    body = {"app": "shop", "endpoint": "item", "level": 0}
    no_token = client.post("/dashboard/api/levels", json=body)
    assert no_token.status_code == 403 and "CSRF" in no_token.get_json()["error"]
    wrong = client.post("/dashboard/api/levels", json=body, headers={"X-CSRF-Token": "x" + csrf})
    assert wrong.status_code == 403
    done = client.post("/dashboard/api/levels", json=body, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200
    app.extensions["lookout"].levels.refresh()
    before = sum(
        p["count"]
        for p in client.get("/dashboard/api/names/request/item/timeseries?range=1h").get_json()[
            "points"
        ]
    )
    app.test_client().get("/items/99")  # level 0: not recorded
    app.extensions["lookout"].lookout.flush(10)
    after = sum(
        p["count"]
        for p in client.get("/dashboard/api/names/request/item/timeseries?range=1h").get_json()[
            "points"
        ]
    )
    assert before == after == 30
    levels = client.get("/dashboard/api/levels").get_json()["apps"]["shop"]
    assert levels["levels"] == {"item": 0}


def test_api_tokens_are_shown_once_hashed_and_revocable(shop: tuple[Flask, Lookout]) -> None:
    app, lk = shop
    client = app.test_client()
    csrf = login(client)
    created = client.post(
        "/dashboard/api/tokens",
        json={"name": "ci", "role": "guest"},
        headers={"X-CSRF-Token": csrf},
    ).get_json()
    token = created["token"]
    machine = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert machine.get("/dashboard/api/overview", headers=auth).status_code == 200
    assert (
        machine.post(
            "/dashboard/api/levels",
            headers=auth,
            json={"app": "shop", "endpoint": "item", "level": 2},
        ).status_code
        == 403
    )
    assert lk.store is not None
    from lookout.store.settings import read_settings

    stored = json.dumps(read_settings(lk.store, "dashboard."))
    assert token not in stored and ADMIN_PASSWORD not in stored  # hashes only
    listed = client.get("/dashboard/api/tokens").get_json()["tokens"]
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    assert (
        client.delete(
            f"/dashboard/api/tokens/{created['id']}", headers={"X-CSRF-Token": csrf}
        ).status_code
        == 200
    )
    assert machine.get("/dashboard/api/overview", headers=auth).status_code == 401
    forged = {"Authorization": "Bearer " + token[:-3] + "abc"}
    assert machine.get("/dashboard/api/overview", headers=forged).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/api/overview?window=1y",
        "/dashboard/api/overview?limit=5",
        "/dashboard/api/overview?kind=request%27%20OR%201=1--",
        "/dashboard/api/names/request/item/timeseries?range=%27;DROP%20TABLE%20lookout_events;--",
        "/dashboard/api/names/request/item/heatmap?days=-1",
        "/dashboard/api/names/request/item/heatmap?days=1;DELETE",
        "/dashboard/api/jobs?range=forever",
    ],
)
def test_bad_parameters_are_refused_with_a_message(shop: tuple[Flask, Lookout], path: str) -> None:
    app, _ = shop
    client = app.test_client()
    login(client)
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert response.get_json()["error"]
    overview = client.get("/dashboard/api/overview").get_json()["rows"]
    assert any(row["name"] == "item" for row in overview)  # nothing was harmed


def test_sql_injection_in_names_is_just_a_name(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    login(client)
    evil = "item' OR '1'='1"
    response = client.get(f"/dashboard/api/names/request/{evil}/timeseries?range=24h")
    assert response.status_code == 200 and response.get_json()["points"] == []


def test_openapi_document_lists_every_api_route(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    login(client)
    document: dict[str, Any] = client.get("/dashboard/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = set(document["paths"])
    served = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/dashboard"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/dashboard/api/")
        and "openapi" not in rule.rule
        and not rule.endpoint.endswith(".api_unknown")  # JSON 404 for unknown API paths
    }
    assert served <= documented


def test_logout_needs_the_csrf_token(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    csrf = login(client)
    assert client.post("/dashboard/logout").status_code == 403
    out = client.post("/dashboard/logout", data={"csrf_token": csrf})
    assert out.status_code == 302
    assert client.get("/dashboard/api/overview").status_code == 401


def test_lookout_dashboard_serves_a_store_on_its_own(tmp_path: Any) -> None:
    import http.client
    import os
    import socket
    import subprocess
    import sys
    import time as time_module
    import urllib.parse

    from lookout import make_event

    store = f"sqlite:///{tmp_path / 'central.db'}"
    lk = Lookout(store=store)
    lk.emit(make_event("call", "billing.charge", duration_ns=5_000_000))
    two_hours_ago = time_module.time_ns() - 2 * 3600 * 10**9
    lk.emit(make_event("run", "hourly-sync", start_ns=two_hours_ago, fields={"schedule": "1h"}))
    lk.close()
    receiver = Receiver()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from lookout.cli import run; run()",
            "dashboard",
            "--store",
            store,
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "LOOKOUT_DASHBOARD_ADMIN_PASSWORD": "s3cret-admin",
            # the process showing the store also watches it for missed runs
            "LOOKOUT_ALERTS": json.dumps([{"type": "missed_run"}]),
            "LOOKOUT_NOTIFIERS": json.dumps([{"type": "webhook", "url": receiver.url}]),
        },
    )

    def request(
        method: str, path: str, body: str = "", headers: dict[str, str] | None = None
    ) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.body = response.read()
        connection.close()
        return response

    try:
        deadline = time_module.monotonic() + 30
        while True:
            try:
                assert request("GET", "/").status == 302
                break
            except OSError:
                assert server.poll() is None and time_module.monotonic() < deadline
                time_module.sleep(0.2)
        page = request("GET", "/dashboard/login")
        form_cookie = page.getheader("Set-Cookie").split(";")[0]
        token = form_token(page.body.decode())
        form = urllib.parse.urlencode(
            {"username": "admin", "password": "s3cret-admin", "csrf_token": token}
        )
        login = request(
            "POST",
            "/dashboard/login",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": form_cookie},
        )
        assert login.status == 302
        cookie = login.getheader("Set-Cookie").split(";")[0]
        overview = request("GET", "/dashboard/api/overview", headers={"Cookie": cookie})
        rows = json.loads(overview.body)["rows"]
        assert [row["name"] for row in rows] == ["billing.charge"]
        system = json.loads(
            request("GET", "/dashboard/api/system", headers={"Cookie": cookie}).body
        )
        assert system["alerts"]["rules"] == ["missed_run(grace 300s)"]
        deadline = time_module.monotonic() + 30
        while not receiver.requests and time_module.monotonic() < deadline:
            time_module.sleep(0.2)
        [alert] = [json.loads(r["body"]) for r in receiver.requests]  # type: ignore[arg-type]
        assert alert["subject"] == "[ALERT] missed_run: hourly-sync"
        assert request("GET", "/dashboard/vendor/plotly.min.js").status == 200  # offline charts
    finally:
        server.terminate()
        server.wait(10)
        receiver.stop()


def test_the_login_form_needs_its_csrf_token(shop: tuple[Flask, Lookout]) -> None:
    app, _ = shop
    client = app.test_client()
    forged = client.post("/dashboard/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert forged.status_code == 403 and "expired" in forged.get_data(as_text=True)
    assert "lookout_session" not in forged.headers.get("Set-Cookie", "")
    assert post_login(client, "admin", ADMIN_PASSWORD).status_code == 302
