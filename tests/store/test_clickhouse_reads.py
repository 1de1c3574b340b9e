"""Reading the ClickHouse store through the store's query interface: ``lookout stats`` and
``lookout prune`` on a clickhouse:// URL, and the dashboard's overview and detail pages (their
JSON API) answering from ClickHouse what they answer from the SQL store on the same events."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")
pytest.importorskip("flask")

from lookout import make_event
from lookout.dashboard import create_app
from lookout.dashboard.data_views import NAME_QUESTIONS
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store.clickhouse.sink import ClickHouseSink

NS = 1_000_000_000


def _events(now_ns: int) -> list[Event]:
    found = []
    for n in range(3000):
        name = "checkout" if n % 3 else "search"
        found.append(
            make_event(
                "request",
                name,
                start_ns=now_ns - (n % 600) * NS - n,
                duration_ns=2_000_000 + (n % 97) * 150_000,
                status=500 if n % 50 == 0 else (404 if n % 31 == 0 else 200),
                error=RuntimeError("x") if n % 50 == 0 else None,
                app_version="2.0" if n % 4 else "1.9",
                request_id=f"r{n}",
                group=f"user-{n % 6}" if n % 2 else None,
                client_ip=f"10.0.0.{n % 4}",
                fields={
                    "method": "GET",
                    "cart": n % 5,
                    **(
                        {"outlier": {"stacks": ["a;b"]}, "profile": [["main;work", 12.5]]}
                        if n % 500 == 0
                        else {}
                    ),
                },
            )
        )
    return found


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lookout", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_lookout_stats_and_prune_on_a_clickhouse_url(clickhouse_url: str) -> None:
    sink = ClickHouseSink(clickhouse_url)
    sink.write(_events(time.time_ns()))
    sink.close()
    result = _cli("stats", "--store", clickhouse_url, "--since", "1h")
    assert result.returncode == 0, result.stderr
    rows = {
        cells[1]: cells
        for line in result.stdout.splitlines()
        if len(cells := [cell.strip() for cell in line.split("│")[1:-1]]) > 3
    }
    assert rows["checkout"][2:4] == ["2,000", "40 (2%)"], result.stdout  # hits, errors
    assert rows["search"][2:4] == ["1,000", "20 (2%)"], result.stdout
    assert "lookout-test" not in result.stdout  # the password is never printed
    result = _cli("prune", "--store", clickhouse_url, "--older-than", "30d", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Would delete 0 events" in result.stdout
    result = _cli("check", env={"LOOKOUT_STORE": clickhouse_url})
    assert result.returncode == 0, result.stderr
    assert "✓ clickhouse" in result.stdout and "ClickHouse 18.16" in result.stdout


def _get(client: Any, path: str) -> Any:
    response = client.get(f"/dashboard/api/{path}")
    assert response.status_code == 200, (path, response.get_data(as_text=True)[:500])
    return response.get_json()


def test_dashboard_overview_and_detail_agree_with_the_sql_store(
    clickhouse_url: str, sqlite_url: str
) -> None:
    now_ns = time.time_ns()
    batch = _events(now_ns)
    others = [  # two jobs' runs (the Jobs page) and a custom metric (the Metrics page)
        make_event(
            "run",
            f"nightly-{n % 2}",
            start_ns=now_ns - (10 - n) * 60 * NS,
            duration_ns=n * NS,
            status=n % 3,
            error=RuntimeError(f"run {n}") if n % 3 else None,
            fields={"schedule": "0 3 * * *", "summary": {"rows": n}},
        )
        for n in range(6)
    ] + [
        make_event(
            "metric",
            "queue.depth",
            start_ns=now_ns - n * 600 * NS,
            fields={"value": n * 1.5, "unit": "Count"},
        )
        for n in range(12)
    ]
    for sink in (ClickHouseSink(clickhouse_url), SqlSink(sqlite_url)):
        sink.write(batch + others)
        sink.close()
    apps = {url: create_app(url, auth=False).test_client() for url in (clickhouse_url, sqlite_url)}
    ours, theirs = apps[clickhouse_url], apps[sqlite_url]
    overview = _get(ours, "overview")["rows"]
    assert [(r["name"], r["hits_1h"], r["hits_24h"]) for r in overview] == [
        ("checkout", 2000, 2000),
        ("search", 1000, 1000),
    ]
    assert overview == _get(theirs, "overview")["rows"]  # sparkline, percentiles, error rate too
    base = "names/request/checkout"
    for question in (*NAME_QUESTIONS, "timeseries?range=7d", "heatmap?days=1"):
        answer = _get(ours, f"{base}/{question}")
        assert answer == _get(theirs, f"{base}/{question}"), question
    versions = {row["key"]: row["count"] for row in _get(ours, f"{base}/versions")["rows"]}
    assert versions == {"2.0": 1500, "1.9": 500}
    assert _get(ours, f"{base}/profile")["requests"] == 4  # n % 500 == 0 and n % 3 != 0
    assert sum(p["count"] for p in _get(ours, f"{base}/timeseries")["points"]) == 2000
    jobs = _get(ours, "jobs")["rows"]
    assert jobs == _get(theirs, "jobs")["rows"]
    assert [(j["name"], j["runs"], j["failures"], j["summary"]) for j in jobs] == [
        ("nightly-0", 3, 2, {"rows": 4}),
        ("nightly-1", 3, 2, {"rows": 5}),
    ]
    metrics = _get(ours, "metrics")["metrics"]
    assert metrics == _get(theirs, "metrics")["metrics"]
    assert [(m["name"], m["unit"]) for m in metrics] == [("queue.depth", "Count")]
    assert sum(p["count"] for p in metrics[0]["points"]) == 12
    system = _get(ours, "system")["store"]
    assert system["backend"] == "clickhouse"
    assert system["rows"]["lookout_events"] == 3018 and system["bytes"] > 0
    for page in ("/dashboard/", "/dashboard/detail/request/checkout", "/dashboard/jobs"):
        response = ours.get(page)
        assert response.status_code == 200, page


def test_every_page_is_served_from_a_clickhouse_store(clickhouse_url: str) -> None:
    """No API route answers 501 on ClickHouse any more: one event's profile, by the event's
    ClickHouse id (the explorer's), included."""
    sink = ClickHouseSink(clickhouse_url)
    sink.write(_events(time.time_ns()))
    sink.close()
    client = create_app(clickhouse_url, auth=False).test_client()
    [profiled] = client.get("/dashboard/api/explorer/events?request_id=r1000").get_json()["rows"]
    flame = client.get(f"/dashboard/api/profiles/event/{profiled['id']}")
    assert flame.status_code == 200, flame.get_data(as_text=True)
    assert flame.get_json()["requests"] == 1 and flame.get_json()["event"]["request_id"] == "r1000"
    for served in (
        *("overview", "overview/tiles", "reports/distributions", "tests/runs", "filters"),
        *("errors", "explorer/events", "explorer/export"),
    ):
        assert client.get(f"/dashboard/api/{served}").status_code == 200, served
    assert client.get("/dashboard/errors").status_code == 200
