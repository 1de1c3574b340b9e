"""The dashboard pages that read rollups, origins and test runs, served from a ClickHouse store
(the real 18.16 server): the overview's tiles, series and names with and without the version and
host filters, the filters' values and the per-host comparison, Distributions and Reports,
profiles, and the Tests page. Every answer is compared with the SQL store's on the same events;
runs submitted through the API land in the settings store beside ClickHouse."""

from __future__ import annotations

import random
import time

import pytest

pytest.importorskip("clickhouse_driver")
pytest.importorskip("flask")

from lookout import make_event
from lookout.dashboard import create_app
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store.clickhouse import schema
from lookout.store.clickhouse.rollup_reads import sketch_parts
from lookout.store.clickhouse.sink import ClickHouseSink
from tests.store.test_clickhouse_reads import _get
from tests.testruns.test_queries import _history

NS = 1_000_000_000
HOUR = 3600


def _events(now_ns: int) -> list[Event]:
    """Three days of two endpoints and one function, oldest first: version 1.9 until a day
    ago, 2.0 since, on two hosts; some errors, statuses, users and profiles."""
    rng = random.Random(5)
    found = []
    for n in range(6000):
        age_s = (6000 - n) * 43 + rng.randrange(40)  # up to 3 days, newest last
        name = ("checkout", "search", "report.build")[n % 3]
        event = make_event(
            "call" if name == "report.build" else "request",
            name,
            start_ns=now_ns - age_s * NS,
            duration_ns=int(rng.lognormvariate(16 + (n % 3) * 0.4, 0.5)),
            status=500 if n % 40 == 0 else 200,
            error=RuntimeError("x") if n % 40 == 0 else None,
            app_version="1.9" if age_s > 86400 else "2.0",
            group=f"user-{n % 7}",
            fields={"profile": [["main;work", 2.5]]} if n % 300 == 0 else None,
        )
        found.append(event._replace(host=f"web-{n % 2}"))
    return found


def test_overview_reports_profiles_and_filters_agree_with_the_sql_store(
    clickhouse_url: str, sqlite_url: str
) -> None:
    now_ns = time.time_ns() // (60 * NS) * 60 * NS + 30 * NS  # the middle of a minute
    batch = _events(now_ns)
    for sink in (ClickHouseSink(clickhouse_url), SqlSink(sqlite_url)):
        sink.write(batch)
        sink.close()
    ours = create_app(clickhouse_url, auth=False).test_client()
    theirs = create_app(sqlite_url, auth=False).test_client()
    now_s = now_ns // NS
    # Fixed windows (a range ending now moves between two requests): the last hour, day and
    # week, and one with ragged ends (minute rows at both ends, hour rows between).
    windows = [f"from={now_s - span}&to={now_s + 60}" for span in (HOUR, 86400, 7 * 86400)]
    windows.append(f"from={now_s - 2 * 86400 - 1234}&to={now_s - 600}")
    paths = [
        *(
            f"overview/{answer}?{window}{where}"
            for answer in ("tiles", "series", "names")
            for window in windows
            for where in ("", "&version=2.0", "&host=web-1", "&version=1.9&host=web-0")
        ),
        f"overview/series?{windows[1]}&kind=request&name=checkout",
        f"overview/series?{windows[2]}&kind=call&name=report.build&host=web-0",
        f"overview/names?{windows[3]}&kind=request&name=search",
        "filters",
        "names/request/checkout/hosts",
        "names/request/checkout/hosts?version=2.0&range=7d",
        "reports/versions",
        *(f"reports/distributions?{window}" for window in windows),
        "reports/compare?compare=day",
        f"reports/compare?compare=custom&base_from={now_s - 3 * 86400}"
        f"&base_to={now_s - 86400}&from={now_s - 86400}&to={now_s}",
        f"reports/utilization?{windows[2]}",
        f"reports/heatmaps?name=checkout&{windows[2]}",
        "profiles/request/checkout",
        "profiles/request/checkout?version=1.9&range=7d",
        "tests/endpoints",  # no runs: no endpoints asked about
    ]
    for path in paths:
        mine, other = _get(ours, path), _get(theirs, path)
        if mine != other:  # a range ending now may have crossed a minute between the two
            mine, other = _get(ours, path), _get(theirs, path)
        assert mine == other, path
    tiles = _get(ours, f"overview/tiles?{windows[2]}")["tiles"]
    assert tiles["requests"]["value"] == 4000 and tiles["calls"]["value"] == 2000
    filters = _get(ours, "filters")
    assert filters["versions"] == ["1.9", "2.0"] and sorted(filters["hosts"]) == ["web-0", "web-1"]
    one_host = _get(ours, f"overview/names?{windows[2]}&host=web-1")["rows"]
    assert sum(row["count"] for row in one_host) == 3000
    assert _get(ours, "profiles/request/checkout?range=7d")["requests"] > 0
    by_version = _get(ours, f"reports/distributions?{windows[2]}")["by_version"]
    assert {row["version"] for row in by_version["rows"]} == {"1.9", "2.0"}
    for page in ("/dashboard/", "/dashboard/distributions", "/dashboard/reports"):
        assert ours.get(page).status_code == 200, page


def test_test_runs_are_kept_in_the_settings_store_beside_clickhouse(clickhouse_url: str) -> None:
    """Runs posted to a ClickHouse-backed dashboard are stored (in its SQL settings store) and
    every Tests question answers; production latency per version comes from ClickHouse."""
    now_ns = time.time_ns()
    events = [
        make_event(
            "request",
            "search",
            start_ns=now_ns - (hours * HOUR + n) * NS,
            duration_ns=(6 if version == "1.0" else 9) * 1_000_000 + n * 1000,
            app_version=version,
        )
        for version, hours in (("1.0", 45), ("1.1", 15))
        for n in range(300)
    ]
    sink = ClickHouseSink(clickhouse_url)
    sink.write(events)
    sink.close()
    client = create_app(clickhouse_url, auth=False).test_client()
    for index, run in enumerate(_history(random.Random(11))):
        answer = client.post(
            "/dashboard/api/tests/runs",
            data=run.to_json().encode(),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 201, answer.get_data(as_text=True)
        assert answer.get_json()["run_id"] == index + 1
    assert [r["key"] for r in _get(client, "tests/runs")["runs"]] == ["a", "b", "c", "d"]
    changes = _get(client, "tests/changes?base=1.0&head=1.1")["tests"]
    assert [(t["name"], t["verdict"]) for t in changes] == [("t.py::test_search", "slower")]
    [flaky] = _get(client, "tests/flaky")["tests"]
    assert flaky["name"] == "t.py::test_flaky"
    endpoints = _get(client, "tests/endpoints?range=7d")["endpoints"]
    assert [(e["endpoint"], e["version"], e["prod_requests"]) for e in endpoints] == [
        ("search", "1.0", 300),
        ("search", "1.1", 300),
    ]
    assert endpoints[1]["prod_p50_ms"] == pytest.approx(9.15, rel=0.02)
    assert client.get("/dashboard/tests").status_code == 200
    assert client.get("/dashboard/api/profiles/event/1").status_code == 404  # no such event


def test_a_range_reads_the_coarsest_whole_sketch_rows() -> None:
    """Whole days and 10-minute spans come from the coarser rows, never across a chart's
    bucket: the same events, fewer rows."""
    day = 86400 * 20000
    parts = ((60, day - 1700, day), (HOUR, day, day + 3 * 86400 + 2 * HOUR))
    assert sketch_parts(parts, None) == (
        (60, day - 1700, day - 1200),
        (600, day - 1200, day),
        (86400, day, day + 3 * 86400),
        (HOUR, day + 3 * 86400, day + 3 * 86400 + 2 * HOUR),
    )
    assert sketch_parts(parts, 3600) == (
        (60, day - 1700, day - 1200),
        (600, day - 1200, day),
        parts[1],  # hourly chart buckets: not from day rows
    )
    assert sketch_parts(((60, day + 60, day + 540),), 120) == ((60, day + 60, day + 540),)


def test_both_filters_read_5_minute_rows_and_count_only_the_rest_from_raw_events() -> None:
    """The per-(version, host) rows have no minutes but 5-minute buckets: a 20-hour chart
    (5-minute buckets) and a 48-hour one (15-minute buckets) read whole rows; 2-minute buckets
    (spans up to 8 hours) keep their minutes (counted from the raw events)."""
    day = 86400 * 20000
    family = tuple(schema.ORIGIN_SKETCHES)
    assert 60 not in family
    for bucket in (300, 900):
        assert sketch_parts(((60, day - 20 * HOUR, day),), bucket, family) == (
            (300, day - 20 * HOUR, day),
        )
    ragged = ((60, day - 1700, day),)
    assert sketch_parts(ragged, None, family) == (
        (60, day - 1700, day - 1500),
        (300, day - 1500, day),
    )
    assert sketch_parts(ragged, 120, family) == ragged
