"""The Mann-Whitney U test against SciPy's answers for the same samples.

The expected values were computed with ``scipy.stats.mannwhitneyu(x, y, method=..., alternative=
"two-sided")``, SciPy 1.17.1 (Python 3.11), and are written out here so that the test suite does
not need SciPy installed.
"""

from __future__ import annotations

import math
import random

import pytest

from lookout.testruns.stats import _u_counts, mann_whitney_u

SCIPY_1_17_1 = [
    # (x, y, method, U of x, two-sided p)
    ([1.1, 2.3, 3.0], [4.2, 5.5, 6.1, 7.9], "exact", 0.0, 0.05714285714285714),
    ([19, 22, 16, 29, 24], [20, 11, 17, 12], "exact", 17.0, 0.1111111111111111),
    (
        [0.5, 0.9, 1.3, 2.2, 2.8, 3.1, 3.7, 4.4],
        [1.0, 1.6, 2.0, 2.5, 3.3, 3.9, 4.8, 5.2, 5.9, 6.3],
        "exact",
        23.0,
        0.14571049865167512,
    ),
    ([1, 2, 2, 3, 3, 3, 4], [3, 4, 4, 5, 5, 6], "asymptotic", 3.5, 0.012999854364387305),
    (
        [float(i) for i in range(60)],
        [i + 7.5 for i in range(60)],
        "asymptotic",
        1378.0,
        0.02694585619564296,
    ),
    ([5, 5, 5], [5, 5, 5, 5], "asymptotic", 6.0, 1.0),
]


@pytest.mark.parametrize(("x", "y", "method", "u", "p"), SCIPY_1_17_1)
def test_matches_scipy(x: list[float], y: list[float], method: str, u: float, p: float) -> None:
    result = mann_whitney_u(x, y)
    assert result.method == method
    assert result.u == u
    assert result.p_value == pytest.approx(p, rel=1e-9)


def test_exact_distribution_counts_every_ordering() -> None:
    for m, n in ((1, 1), (3, 4), (7, 9), (20, 20)):
        counts = _u_counts(m, n)
        assert len(counts) == m * n + 1
        assert sum(counts) == math.comb(m + n, m)
        assert counts == counts[::-1]  # U and m·n - U are equally likely


def test_the_test_is_symmetric_and_needs_data() -> None:
    rng = random.Random(3)
    x = [rng.random() for _ in range(12)]
    y = [rng.random() + 0.2 for _ in range(9)]
    assert mann_whitney_u(x, y).p_value == pytest.approx(mann_whitney_u(y, x).p_value)
    with pytest.raises(ValueError, match="non-empty"):
        mann_whitney_u([], [1.0])
