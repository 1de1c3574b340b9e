from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookout.store.sketch import RELATIVE_ACCURACY, LatencySketch


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


@pytest.mark.parametrize(
    "sample",
    [
        lambda r: r.lognormvariate(math.log(5e6), 1.2),  # typical request latencies
        lambda r: r.uniform(1e3, 1e9),
        lambda r: r.expovariate(1 / 2e5),
        lambda r: r.choice([1e6, 1e6, 1e6, 5e8]),  # bimodal: cache hits and misses
    ],
)
def test_quantiles_within_relative_accuracy(sample: object) -> None:
    rng = random.Random(7)
    values = [max(1.0, sample(rng)) for _ in range(20_000)]  # type: ignore[operator]
    sketch = LatencySketch.of(values)
    for q in (0.0, 0.5, 0.9, 0.95, 0.99, 1.0):
        estimate = sketch.quantile(q)
        exact = _exact(values, q)
        assert estimate is not None
        assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact + 1e-9


@settings(max_examples=50)
@given(
    st.lists(st.floats(min_value=1, max_value=1e12), min_size=1, max_size=200),
    st.lists(st.floats(min_value=1, max_value=1e12), min_size=1, max_size=200),
)
def test_merging_equals_sketching_everything_at_once(a: list[float], b: list[float]) -> None:
    merged = LatencySketch.of(a)
    merged.merge(LatencySketch.of(b))
    together = LatencySketch.of(a + b)
    assert merged.buckets == together.buckets
    assert merged.count == len(a) + len(b)


def test_round_trips_through_json_and_handles_empty() -> None:
    sketch = LatencySketch.of([10, 1000, 1000, 5e9, 0.5])
    again = LatencySketch.from_json(sketch.to_json())
    assert again.buckets == sketch.buckets
    assert again.count == 5
    assert LatencySketch.from_json("[]").quantile(0.5) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        sketch.quantile(1.5)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 10**13), st.floats(0, 1e13, allow_nan=False)), max_size=50)
)
def test_sketching_at_once_equals_adding_one_by_one(values: list[float]) -> None:
    """``of`` takes a faster road when every value is above 1 ns; both give add's buckets."""
    one_by_one = LatencySketch()
    for value in values:
        one_by_one.add(value)
    at_once = LatencySketch.of(values)
    assert at_once.buckets == one_by_one.buckets and at_once.count == len(values)
    assert LatencySketch.of(iter(values)).buckets == one_by_one.buckets
