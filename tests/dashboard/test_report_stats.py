"""The reports' significance tests against reference values computed by scipy 1.17.1
(``scipy.stats.mannwhitneyu(x, y, method="asymptotic")`` on the histograms expanded into
samples, ``scipy.stats.chi2_contingency(table, correction=False)``) and Holm's method by hand."""

from __future__ import annotations

import math

import pytest

from lookout.dashboard.report_stats import holm, mann_whitney, two_proportions
from lookout.store.sketch import LatencySketch

SHIFTED_A = {10: 5, 11: 20, 12: 30, 13: 10}
SHIFTED_B = {11: 4, 12: 18, 13: 25, 14: 12, 15: 3}


@pytest.mark.parametrize(
    ("a", "b", "u", "p"),
    [
        (SHIFTED_A, SHIFTED_B, 775.0, 4.335975765846729e-10),
        ({10: 5, 11: 20, 12: 30}, {10: 6, 11: 19, 12: 31}, 1540.0, 1.0),
        ({1: 1, 2: 2, 5: 1}, {2: 1, 3: 2, 6: 2}, 4.0, 0.16690480637428717),
    ],
)
def test_mann_whitney_matches_scipy_on_tied_samples(
    a: dict[int, int], b: dict[int, int], u: float, p: float
) -> None:
    found = mann_whitney(a, b)
    assert found.u == u
    assert found.p == pytest.approx(p, rel=1e-9)


def test_mann_whitney_is_symmetric_and_its_delta_says_which_side_is_slower() -> None:
    forward, backward = mann_whitney(SHIFTED_A, SHIFTED_B), mann_whitney(SHIFTED_B, SHIFTED_A)
    assert forward.p == pytest.approx(backward.p)
    # scipy's U of the other order is 3255: delta = (3255 - 775) / (65 * 62)
    assert forward.delta == pytest.approx((3255 - 775) / (65 * 62))
    assert backward.delta == pytest.approx(-forward.delta)
    assert forward.z > 0 > backward.z


def test_mann_whitney_of_an_empty_or_constant_side_finds_nothing() -> None:
    assert mann_whitney({}, SHIFTED_B).p == 1.0
    assert mann_whitney({5: 10}, {5: 30}).p == 1.0


def test_mann_whitney_on_real_sketches_finds_a_ten_percent_slowdown_not_noise() -> None:
    rng = __import__("random").Random(3)
    base = LatencySketch.of(rng.lognormvariate(16, 0.5) for _ in range(5000))
    same = LatencySketch.of(rng.lognormvariate(16, 0.5) for _ in range(5000))
    slower = LatencySketch.of(1.1 * rng.lognormvariate(16, 0.5) for _ in range(5000))
    assert mann_whitney(base.buckets, same.buckets).p > 0.01
    found = mann_whitney(base.buckets, slower.buckets)
    assert found.p < 1e-6 and found.delta > 0.05


@pytest.mark.parametrize(
    ("counts", "p"),
    [
        ((30, 1000, 55, 1000), 0.0055857461875038865),
        ((5, 200, 5, 210), 0.9377404590808948),
        ((0, 100, 3, 100), 0.0809519437773807),
    ],
)
def test_two_proportions_matches_the_chi_square_test(counts: tuple[int, ...], p: float) -> None:
    found = two_proportions(*counts)
    assert found.p == pytest.approx(p, rel=1e-9)
    assert found.rate_b == counts[2] / counts[3]


def test_two_proportions_without_errors_or_events() -> None:
    assert two_proportions(0, 100, 0, 100).p == 1.0
    assert two_proportions(0, 0, 3, 10).p == 1.0


def test_holm_steps_down_and_keeps_the_order_given() -> None:
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> at least 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []
    assert all(math.isfinite(v) for v in holm([0.0, 1e-300]))
