"""The Errors API over real stores: the list, filters and sorts, a group's page, the status
action (admin, CSRF), and the counts agreeing with the raw events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from lookout.dashboard import create_app
from lookout.dashboard.blueprint import DashboardOptions, create_blueprint
from lookout.events import ERROR, OK, Event
from lookout.sinks.sql import SqlSink
from lookout.store import SqlStore
from tests.dashboard.helpers import post_login

NS = 1_000_000_000
PASSWORD = "the admin's password"


def _traceback(function: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/.venv/lib/python3.12/site-packages/flask/app.py", line 880, in dispatch\n'
        "    rv = view()\n"
        f'  File "/srv/shop/shop/views.py", line 41, in {function}\n'
        "    return prices[sku]\n"
        "KeyError: 'sku'\n"
    )


def _events(now_ns: int) -> list[Event]:
    """60 KeyErrors in checkout (two versions, two hosts, 6 users), 20 in refund (one of
    them 3 days old), 10 bare 503s on /health, and successful requests around them."""
    made = []
    for n in range(60):
        made.append(
            Event(
                "request",
                "/checkout",
                now_ns - (n + 1) * 60 * NS,
                2_000_000,
                ERROR,
                500,
                host=("web-1", "web-2")[n % 2],
                app_version=("1.1", "1.0")[n >= 30],  # the newest in 1.1
                request_id=f"req-{n}",
                group=f"user-{n % 6}",
                fields={"method": "POST", "path": "/checkout", "cart": n},
                tags={"region": "eu"},
                error_type="KeyError",
                error_message=f"'sku-{n}'",
                traceback=_traceback("checkout"),
            )
        )
    for n in range(20):
        start = now_ns - (3 * 86400 * NS if n == 0 else (n + 1) * 30 * NS)
        made.append(
            Event(
                "request",
                "/refund",
                start,
                1_000_000,
                ERROR,
                500,
                app_version="1.1",
                error_type="KeyError",
                error_message="'x'",
                traceback=_traceback("refund"),
            )
        )
    made += [Event("request", "/health", now_ns - n * NS, 1000, ERROR, 503) for n in range(10)]
    made += [Event("request", "/checkout", now_ns - n * NS, 1000, OK, 200) for n in range(100)]
    return sorted(made, key=lambda e: e.start_ns)


def _sink(url: str) -> SqlSink:
    if url.startswith("clickhouse"):
        from lookout.store.clickhouse.sink import ClickHouseSink

        return ClickHouseSink(url)
    return SqlSink(url)


@pytest.fixture
def errors_url(any_store_url: str) -> str:
    """Each SQL store, and a ClickHouse store on the real 18.16 server."""
    return any_store_url


@pytest.fixture
def client(errors_url: str) -> Iterator[Any]:
    sink = _sink(errors_url)
    sink.write(_events(time.time_ns()))
    app = Flask(__name__)
    store: SqlStore = sink.store
    app.register_blueprint(
        create_blueprint(lambda: store, DashboardOptions(auth=False)), url_prefix="/dashboard"
    )
    yield app.test_client()
    sink.close()


def _groups(client: Any, query: str = "") -> list[dict[str, Any]]:
    answer = client.get(f"/dashboard/api/errors{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    groups: list[dict[str, Any]] = answer.get_json()["groups"]
    return groups


def test_the_list_counts_in_the_range_and_sorts(client: Any) -> None:
    groups = _groups(client)
    assert [(g["culprit"], g["count"]) for g in groups] == [
        ("shop.views.checkout", 60),
        ("shop.views.refund", 19),  # the one from 3 days ago is outside the 24 h range
        ("/health", 10),
    ]
    checkout = groups[0]
    assert checkout["error_type"] == "KeyError" and checkout["total"] == 60
    assert checkout["users"] == 6
    assert checkout["first_version"] == "1.0" and checkout["last_version"] == "1.1"
    assert checkout["where"] == [{"kind": "request", "name": "/checkout", "count": 60}]
    assert sum(checkout["spark"]) == 60 and len(checkout["spark"]) == 25
    assert groups[1]["total"] == 20
    assert [g["count"] for g in _groups(client, "?range=7d")][:2] == [60, 20]
    health = groups[2]
    assert health["error_type"] == "HTTP 503" and health["users"] == 0
    by_first = [g["culprit"] for g in _groups(client, "?sort=first_seen")]
    assert by_first[-1] == "shop.views.refund"  # first seen 3 days ago: the oldest
    by_last = [g["culprit"] for g in _groups(client, "?sort=last_seen")]
    assert by_last[0] == "/health"  # the most recent occurrence


def test_filters_by_version_host_name_and_status(client: Any) -> None:
    assert {g["culprit"]: g["count"] for g in _groups(client, "?version=1.0")} == {
        "shop.views.checkout": 30
    }
    assert {g["culprit"]: g["count"] for g in _groups(client, "?host=web-2")} == {
        "shop.views.checkout": 30
    }
    assert [g["culprit"] for g in _groups(client, "?name=/refund")] == ["shop.views.refund"]
    assert _groups(client, "?name=/nothing") == []
    assert _groups(client, "?host=nowhere") == []
    assert _groups(client, "?status=resolved") == []
    assert len(_groups(client, "?status=unresolved")) == 3
    assert client.get("/dashboard/api/errors?status=gone").status_code == 400
    assert client.get("/dashboard/api/errors?sort=name").status_code == 400


def test_a_group_page_has_the_latest_occurrence_and_its_context(client: Any) -> None:
    checkout = _groups(client)[0]
    answer = client.get(f"/dashboard/api/errors/{checkout['id']}")
    assert answer.status_code == 200
    group = answer.get_json()
    latest = group["latest"]
    assert latest["request_id"] == "req-0"  # the newest one
    assert latest["fields"]["cart"] == 0 and latest["tags"] == {"region": "eu"}
    assert latest["user"] == "user-0" and latest["version"] == "1.1"
    assert latest["path"] == "/checkout"
    frames = [line for line in group["traceback"] if line["frame"]]
    assert [line["app"] for line in frames] == [False, True]
    assert "shop/views.py" in frames[1]["text"]
    assert sum(point["count"] for point in group["over_time"]) == 60 == group["count"]
    assert {row["version"]: row["count"] for row in group["per_version"]} == {"1.0": 30, "1.1": 30}
    assert {row["host"]: row["count"] for row in group["per_host"]} == {"web-1": 30, "web-2": 30}
    occurrences = group["occurrences"]
    assert len(occurrences) == 50
    assert [o["request_id"] for o in occurrences[:3]] == ["req-0", "req-1", "req-2"]
    assert all(o["error_type"] == "KeyError" and o["name"] == "/checkout" for o in occurrences)
    event = client.get(f"/dashboard/api/explorer/events/{occurrences[0]['id']}").get_json()
    assert event["request_id"] == "req-0"
    filtered = client.get(f"/dashboard/api/errors/{checkout['id']}?version=1.0").get_json()
    assert filtered["count"] == 30
    assert client.get("/dashboard/api/errors/999999").status_code == 404
    page = client.get(f"/dashboard/errors/{checkout['id']}")
    assert page.status_code == 200 and "errors.js" in page.get_data(as_text=True)
    assert 'href="/dashboard/errors"' in client.get("/dashboard/").get_data(as_text=True)


def test_marking_resolved_then_a_recurrence_is_a_regression(client: Any, errors_url: str) -> None:
    refund = next(g for g in _groups(client) if g["culprit"] == "shop.views.refund")
    answer = client.post(
        f"/dashboard/api/errors/{refund['id']}/status", json={"status": "resolved"}
    )
    assert answer.status_code == 200 and answer.get_json()["status"] == "resolved"
    assert [g["culprit"] for g in _groups(client, "?status=resolved")] == ["shop.views.refund"]
    bad = client.post(f"/dashboard/api/errors/{refund['id']}/status", json={"status": "gone"})
    assert bad.status_code == 400
    missing = client.post("/dashboard/api/errors/999999/status", json={"status": "ignored"})
    assert missing.status_code == 404
    sink = _sink(errors_url)
    again = Event(
        "request",
        "/refund",
        time.time_ns() + NS,
        1000,
        ERROR,
        500,
        error_type="KeyError",
        error_message="'y'",
        traceback=_traceback("refund"),
    )
    sink.write([again])
    sink.close()
    now = next(g for g in _groups(client) if g["culprit"] == "shop.views.refund")
    assert now["status"] == "unresolved" and now["regression"] is True
    assert now["total"] == 21


def test_only_an_admin_with_the_csrf_token_changes_a_status(sqlite_url: str) -> None:
    sink = SqlSink(sqlite_url)
    sink.write(_events(time.time_ns())[:5])
    sink.close()
    app = create_app(sqlite_url, admin_password=PASSWORD, guest_passwords=("guest-pw",))
    guest = app.test_client()
    assert post_login(guest, "guest", "guest-pw").status_code == 302
    group_id = guest.get("/dashboard/api/errors").get_json()["groups"][0]["id"]
    url = f"/dashboard/api/errors/{group_id}/status"
    guest_csrf = guest.get("/dashboard/api/me").get_json()["csrf"]
    refused = guest.post(url, json={"status": "ignored"}, headers={"X-CSRF-Token": guest_csrf})
    assert refused.status_code == 403
    admin = app.test_client()
    assert post_login(admin, "admin", PASSWORD).status_code == 302
    assert admin.post(url, json={"status": "ignored"}).status_code == 403  # no CSRF token
    csrf = admin.get("/dashboard/api/me").get_json()["csrf"]
    done = admin.post(url, json={"status": "ignored"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200
    assert admin.get("/dashboard/api/errors").get_json()["groups"][0]["status"] == "ignored"


def test_a_rare_group_lists_its_newest_occurrences_from_a_bounded_read(errors_url: str) -> None:
    """One occurrence an hour for 30 hours: the page reads the newest 24 hours' slices."""
    now_ns = time.time_ns()
    sink = _sink(errors_url)
    rare = [
        Event(
            "request",
            "/refund",
            now_ns - n * 3600 * NS,
            1000,
            ERROR,
            500,
            request_id=f"rare-{n}",
            error_type="KeyError",
            error_message="'x'",
            traceback=_traceback("refund"),
        )
        for n in range(30)
    ]
    busy = [Event("request", "/refund", now_ns - n * NS, 1000, OK, 200) for n in range(500)]
    sink.write(sorted(rare + busy, key=lambda e: e.start_ns))
    app = Flask(__name__)
    store = sink.store
    app.register_blueprint(
        create_blueprint(lambda: store, DashboardOptions(auth=False)), url_prefix="/dashboard"
    )
    client = app.test_client()
    group_id = _groups(client, "?range=7d")[0]["id"]
    group = client.get(f"/dashboard/api/errors/{group_id}?range=7d").get_json()
    ids = [o["request_id"] for o in group["occurrences"]]
    assert ids == [f"rare-{n}" for n in range(24)]
    assert group["count"] == 30 and group["latest"]["request_id"] == "rare-0"
    sink.close()
