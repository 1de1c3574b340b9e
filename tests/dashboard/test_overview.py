"""The overview's API (tiles, series, names) exact against events written through the real
store writer, on SQLite and PostgreSQL: counts, error rates, percentiles from the sketches,
Apdex with a per-name threshold, the change against the previous range, version and host
filters, and the pytest plugin's tests left out."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from lookout.dashboard import app_views, create_app
from lookout.events import Event
from lookout.pytest_plugin import TEST_PREFIX
from lookout.sinks.sql import SqlSink
from lookout.store.sketch import LatencySketch
from tests.conftest import _empty

NS = 1_000_000_000
MS = 1_000_000
HOUR = 3600
# A 6 h range that starts and ends half-way through an hour: whole hours come from the hour
# rollups, the two ragged half hours from the minute rollups.
BASE = int(time.time()) // HOUR * HOUR - 10 * HOUR
FROM = BASE + 1800
TO = FROM + 6 * HOUR
PREVIOUS = FROM - 6 * HOUR


def _request(
    name: str, t: int, ms: int, *, error: bool = False, host: str = "web-1", version: str = "1.0"
) -> Event:
    return Event(
        "request",
        name,
        t * NS,
        ms * MS,
        "error" if error else "ok",
        500 if error else 200,
        host,
        4000,
        version,
    )


#: (name, offset in seconds from FROM, ms, error, host, version) of the range's requests
CURRENT = [
    *[("orders", 60 + 1000 * i, 100, i < 2, "web-1", "1.0") for i in range(10)],  # satisfied
    *[("orders", 7000 + 600 * i, 1000, False, "web-2", "2.0") for i in range(4)],  # tolerating
    *[("orders", 6 * HOUR - 90 - i, 3000, False, "web-2", "2.0") for i in range(2)],  # frustrated
    *[("checkout", 3 * HOUR + 10 * i, 1500, i == 0, "web-1", "2.0") for i in range(3)],
    ("checkout", 5 * HOUR, 10_000, False, "web-1", "2.0"),
]
ORDERS_MS = [100] * 10 + [1000] * 4 + [3000] * 2


def _events() -> list[Event]:
    events = [
        _request(name, FROM + offset, ms, error=error, host=host, version=version)
        for name, offset, ms, error, host, version in CURRENT
    ]
    events += [_request("orders", PREVIOUS + 600 * i, 100) for i in range(8)]
    # outside both ranges: never counted
    events += [_request("orders", PREVIOUS - 120, 100), _request("orders", TO + 30, 100)]
    calls = [FROM + 900 * i for i in range(5)] + [PREVIOUS + 60, PREVIOUS + 120]
    events += [Event("call", "shop.charge", t * NS, 2 * MS) for t in calls]
    events += [
        Event("call", TEST_PREFIX + "tests/t.py::test_x", (FROM + i) * NS, MS) for i in range(3)
    ]
    return sorted(events, key=lambda e: e.start_ns)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('overview') / 'store.db'}"
    else:
        url = _empty(request.getfixturevalue("postgres_database"))
    sink = SqlSink(url)
    sink.write(_events())
    sink.close()
    return url


@pytest.fixture
def client(store: str) -> FlaskClient:
    return create_app(
        store, auth=False, apdex_threshold_ms=500, apdex_thresholds_ms={"checkout": 2000}
    ).test_client()


def get(client: FlaskClient, path: str, **query: Any) -> Any:
    answer = client.get(
        f"/dashboard/api/overview/{path}", query_string={"from": FROM, "to": TO, **query}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def _p(values_ms: list[int], q: float) -> float:
    """What the sketch answers for these values (the stored format's own arithmetic)."""
    found = LatencySketch.of(v * MS for v in values_ms).quantile(q)
    assert found is not None
    return round(found / 1e6, 3)


def _nearest_rank(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[math.floor(q * (len(ordered) - 1))])


def test_tiles_are_exact_with_the_previous_range(client: FlaskClient) -> None:
    found = get(client, "tiles")
    assert (found["from"], found["to"]) == (FROM, TO)
    assert (found["previous_from"], found["previous_to"]) == (PREVIOUS, FROM)
    tiles = found["tiles"]
    assert tiles["requests"] == {"value": 20, "previous": 8, "delta": 12, "change": 1.5}
    assert tiles["calls"] == {"value": 5, "previous": 2, "delta": 3, "change": 1.5}
    assert tiles["error_rate"] == {"value": 0.15, "previous": 0.0, "delta": 0.15, "change": None}
    every_ms = ORDERS_MS + [1500] * 3 + [10_000]
    assert tiles["p95_ms"]["value"] == _p(every_ms, 0.95)
    assert tiles["p95_ms"]["value"] == pytest.approx(_nearest_rank(every_ms, 0.95), rel=0.01)
    assert tiles["p95_ms"]["previous"] == _p([100] * 8, 0.95)
    # orders (T 500 ms): (10 + 4 / 2) / 16; checkout (its own T, 2 s): 3 / 4
    assert tiles["apdex"]["value"] == round((12 + 3) / 20, 4)
    assert tiles["apdex"]["previous"] == 1.0
    assert tiles["apdex"]["change"] == round(0.75 - 1, 4)


def test_apdex_per_name_with_an_override(client: FlaskClient) -> None:
    rows = {row["name"]: row for row in get(client, "names")["rows"]}
    assert set(rows) == {"orders", "checkout", "shop.charge"}  # no test: they have a page
    orders, checkout = rows["orders"], rows["checkout"]
    assert (orders["count"], orders["errors"], orders["error_rate"]) == (16, 2, 0.125)
    assert (orders["apdex"], orders["apdex_t_ms"]) == (0.75, 500)
    assert (checkout["apdex"], checkout["apdex_t_ms"]) == (0.75, 2000)
    for key, q in {"p50_ms": 0.5, "p75_ms": 0.75, "p95_ms": 0.95, "p99_ms": 0.99}.items():
        assert orders[key] == _p(ORDERS_MS, q)
        assert orders[key] == pytest.approx(_nearest_rank(ORDERS_MS, q), rel=0.01)
    assert rows["shop.charge"]["count"] == 5


def test_the_threshold_comes_from_the_settings(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKOUT_APDEX_THRESHOLD", "1200ms")
    monkeypatch.setenv("LOOKOUT_APDEX_THRESHOLDS", "orders=50ms")
    app_views._apdex_from_settings.cache_clear()
    try:
        client = create_app(store, auth=False).test_client()
        rows = {row["name"]: row for row in get(client, "names", kind="request")["rows"]}
    finally:
        app_views._apdex_from_settings.cache_clear()
    # orders at 50 ms: nothing satisfied, the 100 ms ones tolerated: 10 / 2 / 16
    assert (rows["orders"]["apdex"], rows["orders"]["apdex_t_ms"]) == (round(5 / 16, 4), 50)
    # checkout at 1.2 s: 1.5 s tolerated, 10 s frustrated
    assert (rows["checkout"]["apdex"], rows["checkout"]["apdex_t_ms"]) == (0.375, 1200)


def test_series_is_exact_per_bucket_with_gaps(client: FlaskClient) -> None:
    found = get(client, "series")
    window = found["window"]
    bucket = window["bucket_s"]
    assert bucket == 120  # 6 h of data: 180 two-minute buckets
    assert window["from"] == (FROM + 60) // bucket * bucket  # where the data starts
    expected: dict[int, list[tuple[int, bool]]] = {}
    for _, offset, ms, error, _, _ in CURRENT:
        expected.setdefault((FROM + offset) // bucket * bucket, []).append((ms, error))
    points = {p["t"]: p for p in found["points"]}
    assert list(points) == list(range(window["from"], window["to"], bucket))
    for t, point in points.items():
        held = expected.get(t)
        if held is None:
            assert point["count"] is None and point["p50_ms"] is None  # a gap
            continue
        assert point["count"] == len(held)
        assert point["errors"] == sum(error for _, error in held)
        assert point["p95_ms"] == _p([ms for ms, _ in held], 0.95)
    assert found["ticks"]["ms"][-1] >= max(p["p99_ms"] or 0 for p in points.values())


def test_one_name_and_the_filters(client: FlaskClient) -> None:
    one = get(client, "series", kind="request", name="checkout")
    assert sum(p["count"] or 0 for p in one["points"]) == 4
    on_web2 = get(client, "tiles", host="web-2")["tiles"]
    assert on_web2["requests"]["value"] == 6
    assert on_web2["error_rate"]["value"] == 0.0
    version_1 = {r["name"]: r["count"] for r in get(client, "names", version="1.0")["rows"]}
    assert version_1 == {"orders": 10}  # calls were recorded without a version
    series_2 = get(client, "series", version="2.0")
    assert sum(p["count"] or 0 for p in series_2["points"]) == 10
    assert get(client, "tiles", host="nowhere")["tiles"]["requests"]["value"] == 0


def test_bad_parameters_are_a_400(client: FlaskClient) -> None:
    for query in ({"range": "2y"}, {"name": "orders"}, {"kind": "metric"}, {"to": FROM - 10}):
        answer = client.get("/dashboard/api/overview/series", query_string={"from": FROM, **query})
        assert answer.status_code == 400, query
        assert answer.get_json()["status"] == 400


@pytest.fixture
def empty(tmp_path: Path) -> FlaskClient:
    return create_app(f"sqlite:///{tmp_path / 'empty.db'}", auth=False).test_client()


def test_an_empty_store_answers_nulls(empty: FlaskClient) -> None:
    tiles = empty.get("/dashboard/api/overview/tiles").get_json()["tiles"]
    assert tiles["requests"] == {"value": 0, "previous": 0, "delta": 0, "change": None}
    assert tiles["p95_ms"]["value"] is None and tiles["apdex"]["value"] is None
    series = empty.get("/dashboard/api/overview/series?range=24h").get_json()
    assert series["window"]["bucket_s"] == 600
    assert all(p["count"] is None for p in series["points"])


def test_answers_match_their_openapi_schemas(client: FlaskClient) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = client.get("/dashboard/api/openapi.json").get_json()
    for path, query in (
        ("tiles", {}),
        ("series", {}),
        ("series", {"kind": "request", "name": "orders", "host": "web-2"}),
        ("names", {"version": "2.0"}),
    ):
        operation = document["paths"][f"/api/overview/{path}"]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(get(client, path, **query), schema)


def test_a_mounted_dashboard_takes_its_lookouts_thresholds(tmp_path: Path) -> None:
    from flask import Flask

    from lookout import Lookout
    from lookout.flask import LookoutFlask

    lk = Lookout(
        store=f"sqlite:///{tmp_path / 'app.db'}",
        batch_interval=0.05,
        apdex_threshold="50ms",
        apdex_thresholds={"slow": "2s"},
    )
    app = Flask("apdex-app")
    LookoutFlask(app, lk, dashboard_auth=False)

    @app.get("/slow")
    def slow() -> str:
        return "ok"

    @app.get("/fast")
    def fast() -> str:
        return "ok"

    client = app.test_client()
    client.get("/slow")
    client.get("/fast")
    try:
        assert lk.flush(20)
        rows = client.get("/dashboard/api/overview/names?range=1h").get_json()["rows"]
    finally:
        lk.close()
    thresholds = {row["name"]: row["apdex_t_ms"] for row in rows}
    assert thresholds == {"slow": 2000, "fast": 50}
