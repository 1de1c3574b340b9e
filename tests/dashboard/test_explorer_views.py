"""The request explorer's API: filters, keyset pages, one event whole, streamed export, hosts."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from lookout import make_event
from lookout.dashboard import explorer
from lookout.dashboard.blueprint import DashboardOptions, create_blueprint
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store import SqlStore
from lookout.store.clickhouse import explorer as clickhouse_events

NS = 1_000_000_000
ORIGINS = [("web-1", "1.0"), ("web-2", "1.1"), ("web-3", "1.1")]


def _events(now_ns: int, count: int) -> list[Event]:
    rng = random.Random(4)
    made = []
    for n in range(count):
        host, version = ORIGINS[n % 3]
        failed = n % 10 == 0
        event = make_event(
            "request",
            "/orders/<id>" if n % 2 else "cart",
            start_ns=now_ns - (count - n) * NS // 10,  # oldest first, as recorded
            duration_ns=(n % 50 + 1) * 1_000_000,
            status=500 if failed else 200,
            error=ValueError(f"no stock for item {n}") if failed else None,
            app_version=version,
            request_id=f"req-{n}",
            group=f"user-{n % 7}",
            fields={"method": "GET", "path": f"/orders/{n}", "basket": n % 5},
            tags={"region": "eu"},
        )
        made.append(event._replace(host=host, pid=rng.randrange(10, 12)))
    return made


@pytest.fixture
def explorer_url(any_store_url: str) -> str:
    """Each SQL store, and a ClickHouse store on the real 18.16 server."""
    return any_store_url


def _sink(url: str) -> SqlSink:
    if url.startswith("clickhouse"):
        from lookout.store.clickhouse.sink import ClickHouseSink

        return ClickHouseSink(url)
    return SqlSink(url)


@pytest.fixture
def dashboard(explorer_url: str) -> Iterator[tuple[Any, list[Event]]]:
    sink = _sink(explorer_url)
    batch = _events(time.time_ns(), 1200)
    for start in range(0, len(batch), 300):
        sink.write(batch[start : start + 300])
    app = Flask(__name__)
    store: SqlStore = sink.store
    app.register_blueprint(
        create_blueprint(lambda: store, DashboardOptions(auth=False)), url_prefix="/dashboard"
    )
    yield app.test_client(), batch
    sink.close()


def _all_pages(client: Any, query: str, limit: int = 50) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        answer = client.get(f"/dashboard/api/explorer/events?{query}&limit={limit}{cursor}")
        assert answer.status_code == 200, answer.get_json()
        page = answer.get_json()
        assert len(page["rows"]) <= limit
        rows += page["rows"]
        if page["next"] is None:
            return rows
        cursor = f"&cursor={page['next']}"


def test_pages_follow_each_other_without_gaps_or_repeats(dashboard: Any) -> None:
    client, batch = dashboard
    rows = _all_pages(client, "range=24h", limit=70)
    assert [r["request_id"] for r in rows] == [e.request_id for e in reversed(batch)]
    oldest = _all_pages(client, "range=24h&order=oldest", limit=500)
    assert [r["request_id"] for r in oldest] == [e.request_id for e in batch]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("status=5xx", lambda e: e.status == 500),
        ("outcome=ok", lambda e: e.outcome == "ok"),
        ("host=web-2&version=1.1", lambda e: e.host == "web-2"),
        ("version=1.1", lambda e: e.app_version == "1.1"),
        ("user=user-3&name=cart", lambda e: e.group == "user-3" and e.name == "cart"),
        ("min_ms=10&max_ms=12.5", lambda e: 10e6 <= e.duration_ns <= 12.5e6),
        ("request_id=req-77", lambda e: e.request_id == "req-77"),
        ("q=item 41", lambda e: "item 41" in (e.error_message or "")),
        ("q=/orders/1199", lambda e: e.fields["path"] == "/orders/1199"),
        ("kind=call", lambda e: False),
        ("host=nowhere", lambda e: False),
    ],
)
def test_filters_keep_exactly_the_matching_events(dashboard: Any, query: str, keep: Any) -> None:
    client, batch = dashboard
    rows = _all_pages(client, query)
    assert [r["request_id"] for r in rows] == [e.request_id for e in reversed(batch) if keep(e)]


def test_a_time_range_and_a_scan_budget(dashboard: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client, batch = dashboard
    middle = batch[600].start_ns // NS
    rows = _all_pages(client, f"from={middle}&to={middle + 30}")
    want = [e for e in batch if middle * NS <= e.start_ns < (middle + 30) * NS]
    assert [r["request_id"] for r in rows] == [e.request_id for e in reversed(want)] and want
    monkeypatch.setattr(explorer, "WINDOW_IDS", 100)
    monkeypatch.setattr(explorer, "SCAN_BUDGET", 200)
    monkeypatch.setattr(clickhouse_events, "WINDOW_EVENTS", 100)
    monkeypatch.setattr(clickhouse_events, "SCAN_BUDGET", 200)
    page = client.get("/dashboard/api/explorer/events?request_id=req-3").get_json()
    assert page["rows"] == [] and not page["complete"] and 200 <= page["examined"] < 400
    assert [r["request_id"] for r in _all_pages(client, "request_id=req-3")] == ["req-3"]


def test_one_event_whole_and_bad_parameters(dashboard: Any) -> None:
    client, _ = dashboard
    [row] = _all_pages(client, "request_id=req-20")
    event = client.get(f"/dashboard/api/explorer/events/{row['id']}").get_json()
    assert event["fields"] == {"method": "GET", "path": "/orders/20", "basket": 0}
    assert event["tags"] == {"region": "eu"} and event["error_type"] == "ValueError"
    assert "no stock for item 20" in event["traceback"] or event["traceback"] is None
    assert event["host"] == "web-3" and event["version"] == "1.1" and event["user"] == "user-6"
    assert client.get("/dashboard/api/explorer/events/999999").status_code == 404
    page = client.get(f"/dashboard/explorer/event/{row['id']}")
    assert page.status_code == 200 and b"explorer.js" in page.data
    for bad in ("status=6xx", "limit=0", "min_ms=-1", "cursor=x", "from=10&to=5", "nope=1"):
        answer = client.get(f"/dashboard/api/explorer/events?{bad}")
        assert answer.status_code == 400, bad


def test_export_streams_csv_and_json_lines(dashboard: Any) -> None:
    client, batch = dashboard
    answer = client.get("/dashboard/api/explorer/export?format=csv&status=5xx")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.is_streamed
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    failed = [e for e in batch if e.status == 500]
    assert [r["request_id"] for r in rows] == [e.request_id for e in failed]
    assert rows[0]["error_message"] == failed[0].error_message and rows[0]["outcome"] == "error"
    assert json.loads(rows[0]["fields"])["path"] == failed[0].fields["path"]
    lines = client.get("/dashboard/api/explorer/export?format=jsonl&host=web-1").get_data(
        as_text=True
    )
    parsed = [json.loads(line) for line in lines.splitlines()]
    assert [p["request_id"] for p in parsed] == [e.request_id for e in batch if e.host == "web-1"]
    assert parsed[0]["duration_ms"] == batch[0].duration_ns / 1e6


def test_hosts_compare_like_versions(dashboard: Any) -> None:
    client, batch = dashboard
    filters = client.get("/dashboard/api/filters").get_json()
    assert filters == {"versions": ["1.0", "1.1"], "hosts": ["web-1", "web-2", "web-3"]}
    found = client.get("/dashboard/api/names/request/cart/hosts?range=24h")
    assert found.status_code == 200, found.get_data(as_text=True)
    answer = found.get_json()
    counts = {row["key"]: row["count"] for row in answer["rows"]}
    assert counts == {h: sum(e.host == h and e.name == "cart" for e in batch) for h, _ in ORIGINS}
    one = client.get("/dashboard/api/names/request/cart/hosts?version=1.0").get_json()
    assert [row["key"] for row in one["rows"]] == ["web-1"]
