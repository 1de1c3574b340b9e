from __future__ import annotations

import random

from lookout.store.rollups import RollupDelta, aggregate

MINUTE_NS = 60 * 1_000_000_000


def _row(name_id: int, start_ns: int, duration_ns: int, is_error: int) -> tuple[int, ...]:
    """An events-table row: only its first four columns are aggregated."""
    return (name_id, start_ns, duration_ns, is_error, 200, 1)


def test_one_delta_per_name_and_bucket_equal_to_adding_each_row() -> None:
    """Rows of three names in a shuffled batch that crosses a minute's end: each (name, minute)
    gets the delta that adding its rows one by one gives."""
    rng = random.Random(3)
    boundary = 1_700_000_040 * 1_000_000_000  # a minute's end
    rows = [
        _row(
            rng.choice([3, 1, 7]),
            boundary + rng.randint(-2_000_000_000, 500_000_000),
            rng.choice([0, 1, rng.randint(2, 10**9)]),
            rng.randint(0, 1),
        )
        for _ in range(2_000)
    ]
    expected: dict[tuple[int, int], RollupDelta] = {}
    for name_id, start, duration, is_error in (row[:4] for row in rows):
        key = (name_id, start // MINUTE_NS * 60)
        expected.setdefault(key, RollupDelta()).add(duration, start, bool(is_error))

    deltas = aggregate(rows, 60)

    assert sorted(deltas) == sorted(expected) and len(deltas) == 6
    for key, delta in deltas.items():
        want = expected[key]
        assert (delta.count, delta.errors, delta.total_ns) == (
            want.count,
            want.errors,
            want.total_ns,
        )
        assert (delta.min_ns, delta.max_ns, delta.last_ns) == (
            want.min_ns,
            want.max_ns,
            want.last_ns,
        )
        assert abs(delta.sumsq_ms2 - want.sumsq_ms2) <= 1e-9 * want.sumsq_ms2
        assert delta.sketch.buckets == want.sketch.buckets


def test_a_batch_within_one_minute_and_an_empty_batch() -> None:
    start = 1_700_000_100 * 1_000_000_000
    deltas = aggregate([_row(5, start + i, 1_000 * (i + 1), 0) for i in range(10)], 60)
    [(key, delta)] = deltas.items()
    assert key == (5, start // MINUTE_NS * 60)
    assert (delta.count, delta.total_ns, delta.min_ns, delta.max_ns) == (10, 55_000, 1_000, 10_000)
    assert delta.last_ns == start + 9
    assert aggregate([], 60) == {}
    hourly = aggregate([_row(5, start, 10, 1)], 3600)
    assert list(hourly) == [(5, start // (3600 * 10**9) * 3600)]
