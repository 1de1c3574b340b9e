"""The flame graph's API and pages over real profiles: a Flask app at level 3 recording into a
real SQLite store, the dashboard on the same app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from lookout import Lookout, make_event
from lookout.flask import LookoutFlask
from lookout.flask.sampler import OUTSIDE_VIEW
from tests.flask.test_profiles import pulse


def wait(seconds: float) -> None:
    time.sleep(seconds)


@pytest.fixture
def site(sqlite_url: str) -> Iterator[tuple[Any, Lookout]]:
    lk = Lookout(store=sqlite_url, batch_interval=0.01)
    app = Flask("flame-api")
    LookoutFlask(app, lk, sampler_interval=0.002, dashboard_auth=False)

    @app.get("/report")
    def report() -> str:
        pulse(0.05)
        wait(0.03)
        return "report"

    @app.get("/plain")
    def plain() -> str:
        return "plain"

    app.extensions["lookout"].set_level("report", 3)
    client = app.test_client()
    for _ in range(4):
        assert client.get("/report").status_code == 200
    client.get("/plain")
    lk.flush(10)
    yield client, lk
    lk.close()


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node["children"]:
        yield from _nodes(child)


def test_the_merged_profile_of_an_endpoint(site: tuple[Any, Lookout]) -> None:
    client, _ = site
    answer = client.get("/dashboard/api/profiles/request/report?range=1h")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    found = answer.get_json()
    assert found["requests"] == 4 and found["truncated"] is False and found["event"] is None
    tree = found["tree"]
    assert tree["frame"] == "report" and tree["file"] is None
    assert 4 * 80 * 0.6 <= tree["total_ms"] <= found["wall_ms"] * 1.05
    assert 0 < found["cpu_ms"] < found["wall_ms"]
    views = [n for n in tree["children"] if n["frame"] != OUTSIDE_VIEW]
    [view] = views  # every path starts at the view's own frame
    assert view["function"].endswith("report") and view["file"].endswith("test_profile_views.py")
    assert view["lines"] and all(entry["ms"] > 0 for entry in view["lines"])
    # each line with its code, as Flask-MonitoringDashboard's line profiler shows it
    codes = {entry["code"] for node in _nodes(view) for entry in node["lines"]}
    assert "pulse(0.05)" in codes and "wait(0.03)" in codes, codes
    functions = {n["function"] for n in _nodes(view)}
    assert {"pulse", "wait"} <= functions, functions
    for node in _nodes(tree):
        assert node["total_ms"] >= 0 and node["self_ms"] >= 0 and node["samples"] >= 0
        below = sum(child["total_ms"] for child in node["children"])
        assert node["self_ms"] + below == pytest.approx(node["total_ms"], abs=0.01)
    limited = client.get("/dashboard/api/profiles/request/report?limit=2").get_json()
    assert limited["requests"] == 2 and limited["truncated"] is True
    assert client.get("/dashboard/api/profiles/request/plain").get_json()["requests"] == 0
    assert client.get("/dashboard/api/profiles/call/report").get_json()["requests"] == 0


def test_an_endpoints_profile_of_one_version(site: tuple[Any, Lookout]) -> None:
    client, lk = site
    for n in range(2):  # profiles recorded by a process of version 2.0
        lk.emit(
            make_event(
                "request",
                "report",
                duration_ns=9_000_000,
                app_version="2.0",
                fields={"profile": [[f"app.py:report:5;app.py:step{n}:9", 4.5, 2]]},
            )
        )
    lk.flush(10)
    base = "/dashboard/api/profiles/request/report"
    new = client.get(f"{base}?version=2.0").get_json()
    assert new["requests"] == 2 and new["tree"]["total_ms"] == 9.0
    [view] = new["tree"]["children"]
    assert {child["function"] for child in view["children"]} == {"step0", "step1"}
    assert client.get(f"{base}").get_json()["requests"] == 6  # every version
    assert client.get(f"{base}?version=").get_json()["requests"] == 4  # none set: the app's
    assert client.get(f"{base}?version=9.9").get_json()["requests"] == 0


def test_one_request_profile_from_its_event(site: tuple[Any, Lookout]) -> None:
    client, _ = site
    rows = client.get("/dashboard/api/explorer/events?name=report").get_json()["rows"]
    event_id = rows[0]["id"]
    found = client.get(f"/dashboard/api/profiles/event/{event_id}").get_json()
    assert found["requests"] == 1 and found["name"] == "report"
    assert found["event"]["id"] == event_id and found["event"]["interval_ms"] == 2.0
    assert found["wall_ms"] == rows[0]["duration_ms"]
    assert 0 < found["cpu_ms"] <= found["wall_ms"]
    assert 50 * 0.6 <= found["tree"]["total_ms"] <= found["wall_ms"] * 1.05
    plain = client.get("/dashboard/api/explorer/events?name=plain").get_json()["rows"][0]
    empty = client.get(f"/dashboard/api/profiles/event/{plain['id']}").get_json()
    assert empty["requests"] == 0 and empty["tree"]["children"] == []


def test_errors_are_answered_as_json(site: tuple[Any, Lookout]) -> None:
    client, _ = site
    missing = client.get("/dashboard/api/profiles/event/999999")
    assert missing.status_code == 404 and "999999" in missing.get_json()["error"]
    assert client.get("/dashboard/api/profiles/nope/report").status_code == 404
    for bad in ("range=2y", "limit=0", "limit=5000", "other=1"):
        answer = client.get(f"/dashboard/api/profiles/request/report?{bad}")
        assert answer.status_code == 400, bad
        assert answer.get_json()["status"] == 400


def test_the_pages_are_shells_with_the_flame_script(site: tuple[Any, Lookout]) -> None:
    client, _ = site
    page = client.get("/dashboard/profile/request/report")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "flame.js" in html and 'data-name="report"' in html
    assert "cdn" not in html.lower()
    event = client.get("/dashboard/profile/event/7")
    assert event.status_code == 200 and 'data-event-id="7"' in event.get_data(as_text=True)
    assert client.get("/dashboard/profile/nope/report").status_code == 404


def test_the_demo_data_has_a_profiled_endpoint(tmp_path: Any) -> None:
    """``lookout demo --dataset``'s search endpoint: the screenshots' profiled endpoint."""
    from lookout.dashboard import create_app
    from lookout.demo_data import generate

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    generate(url, days=1, requests_per_hour=60)
    client = create_app(url, auth=False).test_client()
    found = client.get("/dashboard/api/profiles/request/search?range=24h").get_json()
    assert found["requests"] > 5
    [view] = found["tree"]["children"]
    assert view["frame"] == "shop/views.py:search" and view["file"] == "shop/views.py"
    rank = next(n for n in view["children"] if n["function"] == "rank")
    assert {entry["code"] for entry in rank["lines"]} >= {"words = tokenize(query)"}
