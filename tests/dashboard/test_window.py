"""Chart buckets follow the range and the data: a minute of data in a 24 h range is visible,
no range draws more than MAX_POINTS points, every bucket of the span is listed (empty ones are
gaps), ticks are round. The last test reads the same through the API over a real store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lookout.dashboard import create_app
from lookout.dashboard.window import (
    BUCKETS_S,
    MAX_POINTS,
    MIN_SPAN_S,
    bucket_for,
    chart_window,
    round_ticks,
)
from lookout.events import Event
from lookout.sinks.sql import SqlSink

NS = 1_000_000_000
DAY = 86400
NOW = 1_790_000_000  # a round-ish instant; not aligned to any bucket
RANGES = {"1h": 3600, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}


@pytest.mark.parametrize("range_s", list(RANGES.values()))
def test_no_range_draws_more_than_max_points(range_s: int) -> None:
    window = chart_window(NOW - range_s, NOW, first_data_s=NOW - range_s)
    assert len(window.buckets) <= MAX_POINTS + 1
    assert window.bucket_s in BUCKETS_S
    assert window.start_s <= NOW - range_s < window.start_s + window.bucket_s
    assert window.end_s >= NOW and window.start_s % window.bucket_s == 0


def test_whole_ranges_get_round_buckets() -> None:
    assert [bucket_for(span) for span in RANGES.values()] == [60, 600, 3600, 10800]


def test_a_minute_of_data_in_24h_is_drawn_in_minutes() -> None:
    window = chart_window(NOW - DAY, NOW, first_data_s=NOW - 60)
    assert window.bucket_s == 60
    assert window.end_s - window.start_s <= MIN_SPAN_S + 120
    # the minute holding the data is one of a few dozen buckets, not one of 1,440
    assert (NOW - 60) // 60 * 60 in window.buckets
    assert 25 <= len(window.buckets) <= 35


def test_data_half_way_into_the_range_starts_the_span() -> None:
    window = chart_window(NOW - 7 * DAY, NOW, first_data_s=NOW - 2 * DAY)
    assert window.bucket_s == 900  # 2 days / 900 s = 192 points
    assert window.start_s == (NOW - 2 * DAY) // 900 * 900
    assert window.range_start_s == NOW - 7 * DAY


def test_no_data_draws_the_whole_range() -> None:
    window = chart_window(NOW - DAY, NOW, first_data_s=None)
    assert window.bucket_s == 600 and window.start_s == (NOW - DAY) // 600 * 600


def test_data_before_the_range_does_not_widen_it() -> None:
    assert chart_window(NOW - 3600, NOW, first_data_s=NOW - DAY).bucket_s == 60


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (1199, [0, 250, 500, 750, 1000, 1250]),
        (599, [0, 200, 400, 600]),
        (0.37, [0, 0.1, 0.2, 0.3, 0.4]),
        (7, [0, 2, 4, 6, 8]),
        (100, [0, 20, 40, 60, 80, 100]),
        (0, [0, 1]),
        (None, [0, 1]),
    ],
)
def test_ticks_are_round(top: float | None, expected: list[float]) -> None:
    assert round_ticks(top) == expected


def test_count_ticks_are_whole() -> None:
    assert round_ticks(12, integer=True) == [0, 5, 10, 15]
    assert round_ticks(3, integer=True) == [0, 1, 2, 3]
    assert round_ticks(1199, integer=True) == [0, 250, 500, 750, 1000, 1250]


def test_a_minute_of_data_is_visible_through_the_api(tmp_path: Path) -> None:
    """One minute of requests, 24 h range: the series has a few dozen minute buckets, the
    data's minute carries the counts, and every other bucket is a gap (null)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    now = int(time.time())
    start = (now - 90) // 60 * 60  # a whole minute, over before now
    sink = SqlSink(url)
    sink.write(
        [
            Event("request", "orders", (start + i) * NS, 5_000_000, status=200, host="web-1")
            for i in range(12)
        ]
    )
    sink.close()
    client = create_app(url, auth=False).test_client()
    found = client.get("/dashboard/api/overview/series", query_string={"range": "24h"}).get_json()
    window, points = found["window"], found["points"]
    assert window["bucket_s"] == 60 and window["range_from"] <= window["from"]
    assert len(points) <= 35
    full = [p for p in points if p["count"] is not None]
    assert [(p["t"], p["count"]) for p in full] == [(start, 12)]
    gaps = [p for p in points if p["count"] is None]
    assert len(gaps) == len(points) - 1
    assert all(p["p95_ms"] is None and p["errors"] is None for p in gaps)
    assert found["ticks"]["count"] == [0, 5, 10, 15]  # whole counts
