"""The Distributions and Reports API over a week of generated history (lookout.demo_data,
written through the real store writer), on SQLite and PostgreSQL: version 1.2's search is
made slower on purpose and must be found; endpoints left unchanged must not be flagged."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lookout.dashboard import create_app
from lookout.dashboard.report_data import Window, period_windows
from lookout.demo_data import generate
from lookout.store.engine import SqlStore
from lookout.store.queries import summarize
from tests.conftest import _empty

NOW = int(time.time())
DAY = 86400
#: 1.1 runs from 4.6 to 1.6 days ago, 1.2 since (lookout.demo_data.VERSIONS)
BASE = {"base_from": NOW - 4 * DAY, "base_to": NOW - 2 * DAY}
CURRENT = {"from": NOW - int(1.5 * DAY), "to": NOW}
UNCHANGED = ("index", "products", "product", "checkout", "shop.payments.charge")


def _fill(request: pytest.FixtureRequest, folder: Path, slowdown: float) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'store.db'}"
    else:
        url = _empty(request.getfixturevalue("postgres_database"))
    generate(url, requests_per_hour=160, now_s=NOW, search_slowdown=slowdown)
    return url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, FlaskClient]:
    url = _fill(request, tmp_path_factory.mktemp("reports"), slowdown=1.6)
    return url, create_app(url, auth=False).test_client()


def get(client: FlaskClient, path: str, **query: Any) -> Any:
    response = client.get(f"/dashboard/api/reports/{path}", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_versions_come_first_seen_first(history: tuple[str, FlaskClient]) -> None:
    assert get(history[1], "versions")["versions"] == ["1.0", "1.1", "1.2"]


def test_the_slower_version_is_found_and_unchanged_names_are_not(
    history: tuple[str, FlaskClient],
) -> None:
    found = get(history[1], "compare", compare="custom", **BASE, **CURRENT)
    flagged = [row["name"] for row in found["latency"]]
    assert set(flagged) == {"search", "shop.search.rank"}
    for row in found["latency"]:
        assert row["latency_p"] < 0.01 and row["delta"] > 0.147
        assert row["p50_change"] > 0.4  # 1.6x, within the sketch's buckets and sampling
    assert not set(UNCHANGED) & set(flagged)
    # 1.2 fixed the KeyError 1.1 had in recommendations: an error rate that fell
    [fixed] = [row for row in found["errors"] if row["name"] == "recommendations"]
    assert fixed["error_rate"][0] > 0.02 and fixed["error_rate"][1] == 0
    assert fixed["error_rate_change"] < 0
    assert {row["name"] for row in found["errors"]} == {"recommendations"}
    method = found["method"]
    assert method["alpha"] == 0.01 and "Mann-Whitney" in method["latency_test"]


def test_nothing_is_flagged_when_nothing_was_made_slower(tmp_path: Path) -> None:
    class Param:
        param = "sqlite"

    url = _fill(Param(), tmp_path, slowdown=1.0)  # type: ignore[arg-type]
    found = get(
        create_app(url, auth=False).test_client(), "compare", compare="custom", **BASE, **CURRENT
    )
    assert found["latency"] == []
    assert len(found["all"]) >= 10


def test_today_and_this_week_compare_whole_utc_days() -> None:
    thursday_noon = 20790 * DAY + 12 * 3600  # 2026-12-03, a Thursday, 12:00 UTC
    assert (thursday_noon // DAY + 3) % 7 == 3
    base, current = period_windows("day", thursday_noon)
    assert (base.start_s, base.end_s, current.start_s) == (
        thursday_noon - 36 * 3600,
        thursday_noon - 12 * 3600,
        thursday_noon - 12 * 3600,
    )
    base, current = period_windows("week", thursday_noon)
    monday = thursday_noon - 12 * 3600 - 3 * DAY
    assert (base.start_s, base.end_s, current.start_s, current.end_s) == (
        monday - 7 * DAY,
        monday,
        monday,
        thursday_noon,
    )
    with pytest.raises(ValueError, match="month"):
        period_windows("month", thursday_noon)


def test_distributions_are_boxes_from_the_sketches(history: tuple[str, FlaskClient]) -> None:
    url, client = history
    rows = get(client, "distributions", range="7d")["rows"]
    assert rows[0]["name"] == "export_csv"  # slowest median first
    names = {(r["kind"], r["name"]) for r in rows}
    assert ("request", "search") in names and ("call", "shop.search.rank") in names
    assert not any(name.startswith("test:") for _, name in names)  # the Tests page's own
    store = SqlStore(url)
    week = {(s.kind, s.name): s for s in summarize(store, since_s=7 * DAY)}
    store.close()
    for row in rows:
        assert row["p5_ms"] <= row["p25_ms"] <= row["p50_ms"] <= row["p75_ms"] <= row["p95_ms"]
        summary = week[(row["kind"], row["name"])]
        assert row["count"] == summary.count
        assert row["p50_ms"] == pytest.approx(summary.p50_ms, rel=0.03)


def test_utilization_counts_every_hit_by_day_and_hour(history: tuple[str, FlaskClient]) -> None:
    url, client = history
    found = get(client, "utilization", range="7d")
    store = SqlStore(url)
    month = {(s.kind, s.name): s.count for s in summarize(store, since_s=7 * DAY)}
    store.close()
    assert len(found["days"]) == 8  # seven days back from now touch eight UTC dates
    for series in found["series"]:
        assert (
            sum(series["daily"]) == sum(series["hourly"]) == month[(series["kind"], series["name"])]
        )
    product = next(s for s in found["series"] if s["name"] == "product")
    assert product["hourly"].index(max(product["hourly"])) in range(12, 19)  # the afternoon peak
    assert min(product["hourly"]) < max(product["hourly"]) / 2


def test_version_heatmaps_show_the_slow_host_and_the_slow_version(
    history: tuple[str, FlaskClient],
) -> None:
    found = get(history[1], "heatmaps", name="search", kind="request", range="7d")
    assert found["versions"] == ["1.0", "1.1", "1.2"]
    hosts = found["hosts"]
    assert hosts["columns"] == ["web-1", "web-2", "web-3"]
    for p50 in hosts["p50_ms"]:  # web-3 is a quarter slower on every version
        assert p50[2] > 1.1 * p50[0]
    assert hosts["p50_ms"][2][0] > 1.4 * hosts["p50_ms"][1][0]  # 1.2 slower than 1.1
    assert sum(map(sum, hosts["counts"])) == found["sampled"]
    assert found["users"]["columns"][0] == "user-1"  # the busiest user first


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("compare", {"compare": "month"}, "compare"),
        ("compare", {"compare": "custom", "from": 10}, "base_from"),
        (
            "compare",
            {"compare": "custom", "from": 20, "to": 10, "base_from": 1, "base_to": 5},
            "after",
        ),
        ("distributions", {"from": 50, "to": 40}, "after"),
        ("distributions", {"range": "2y"}, "range"),
        ("heatmaps", {}, "name"),
        ("versions", {"x": "1"}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_400s_that_say_why(
    history: tuple[str, FlaskClient], path: str, query: dict[str, Any], message: str
) -> None:
    response = history[1].get(f"/dashboard/api/reports/{path}", query_string=query)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_pages_and_openapi(history: tuple[str, FlaskClient]) -> None:
    client = history[1]
    for page in ("distributions", "reports"):
        html = client.get(f"/dashboard/{page}").get_data(as_text=True)
        assert "reports.js" in html and f'data-page="{page}"' in html
    paths = client.get("/dashboard/api/openapi.json").get_json()["paths"]
    for path in ("versions", "distributions", "compare", "utilization", "heatmaps"):
        assert f"/api/reports/{path}" in paths


def test_window_of_a_short_range_reads_minutes() -> None:
    from lookout.dashboard.report_data import _table_and_bounds
    from lookout.store import schema

    assert _table_and_bounds(Window(0, 3600, ""))[0] is schema.rollups_minute
    assert _table_and_bounds(Window(0, 7 * DAY, ""))[0] is schema.rollups_hour


def test_distributions_per_version_show_the_slower_search(
    history: tuple[str, FlaskClient],
) -> None:
    found = get(history[1], "distributions", **{"from": NOW - 7 * DAY, "to": NOW})["by_version"]
    assert found["versions"] == ["1.0", "1.1", "1.2"]  # first seen first
    search = {r["version"]: r for r in found["rows"] if r["name"] == "search"}
    assert set(search) == {"1.0", "1.1", "1.2"}
    assert search["1.2"]["p50_ms"] > 1.4 * search["1.1"]["p50_ms"]  # 1.6x, within the sketch
    index = {r["version"]: r for r in found["rows"] if r["name"] == "index"}
    assert 0.8 < index["1.2"]["p50_ms"] / index["1.1"]["p50_ms"] < 1.25
    total = sum(r["count"] for r in found["rows"] if r["name"] == "search")
    [overall] = [
        r
        for r in get(history[1], "distributions", **{"from": NOW - 7 * DAY, "to": NOW})["rows"]
        if r["name"] == "search"
    ]
    assert total == overall["count"]  # every event in exactly one version's box
