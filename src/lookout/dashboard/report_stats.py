"""Significance tests that run on what the store keeps: latency histograms and counts.

The rollups keep no raw durations, only each name's latency sketch: bucket counts on a
logarithmic grid shared by every sketch (:mod:`lookout.store.sketch`). Two periods or two
versions are therefore two histograms on the same grid, and a rank test needs nothing more:
the Mann-Whitney U statistic counts, for every pair (a, b), whether b is slower than a, and a
bucket is a group of tied values. So :func:`mann_whitney` computes exactly what
``scipy.stats.mannwhitneyu(a, b, method="asymptotic")`` computes on the bucket values (normal
approximation with the tie correction and the continuity correction), in one pass over the
buckets instead of a sort of millions of values, without adding scipy (and numpy) to the
dashboard's dependencies. Error rates are compared with the two-proportion z-test (the
chi-square test of a 2x2 table without Yates' correction), and many comparisons on one page
are corrected with Holm's step-down method.

The tests in tests/dashboard/test_report_stats.py compare each function with reference values
computed by scipy 1.17.1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RankTest:
    """A Mann-Whitney U test of ``b`` against ``a``."""

    #: U of ``a``: pairs where a is slower than b, plus half the ties (scipy's ``statistic``).
    u: float
    z: float
    #: Two-sided p-value.
    p: float
    #: Cliff's delta, P(b > a) - P(b < a), from -1 to 1: positive when ``b`` is slower.
    delta: float


def mann_whitney(a: Mapping[int, int], b: Mapping[int, int]) -> RankTest:
    """The two-sided Mann-Whitney U test of two histograms (bucket -> count) on one grid.

    Values in one bucket are ties. An empty side gives p = 1 and delta = 0 (nothing to say).
    """
    n1, n2 = sum(a.values()), sum(b.values())
    if n1 == 0 or n2 == 0:
        return RankTest(u=0.0, z=0.0, p=1.0, delta=0.0)
    below_a = 0  # values of a in lower buckets than the current one
    u_b = 0.0  # pairs where b is slower, plus half the ties
    ties = 0.0
    for bucket in sorted(set(a) | set(b)):
        count_a, count_b = a.get(bucket, 0), b.get(bucket, 0)
        u_b += count_b * (below_a + count_a / 2)
        below_a += count_a
        tied = count_a + count_b
        ties += tied**3 - tied
    pairs = n1 * n2
    u_a = pairs - u_b
    n = n1 + n2
    mean = pairs / 2
    variance = pairs / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    delta = (u_b - u_a) / pairs
    if variance <= 0:  # every value in one bucket: no difference to find
        return RankTest(u=u_a, z=0.0, p=1.0, delta=delta)
    # scipy's continuity correction: |U - mean| shrunk by a half, toward the mean
    distance = max(abs(u_a - mean) - 0.5, 0.0)
    z = math.copysign(distance / math.sqrt(variance), u_b - u_a)
    return RankTest(u=u_a, z=z, p=min(1.0, math.erfc(abs(z) / math.sqrt(2))), delta=delta)


@dataclass(frozen=True, slots=True)
class ProportionTest:
    """A two-proportion z-test of ``errors_b / count_b`` against ``errors_a / count_a``."""

    rate_a: float
    rate_b: float
    z: float
    p: float


def two_proportions(errors_a: int, count_a: int, errors_b: int, count_b: int) -> ProportionTest:
    """The pooled two-proportion z-test (the 2x2 chi-square test without Yates' correction)."""
    rate_a = errors_a / count_a if count_a else 0.0
    rate_b = errors_b / count_b if count_b else 0.0
    if count_a == 0 or count_b == 0:
        return ProportionTest(rate_a, rate_b, 0.0, 1.0)
    pooled = (errors_a + errors_b) / (count_a + count_b)
    variance = pooled * (1 - pooled) * (1 / count_a + 1 / count_b)
    if variance <= 0:  # no errors at all, or nothing but errors, on both sides
        return ProportionTest(rate_a, rate_b, 0.0, 1.0)
    z = (rate_b - rate_a) / math.sqrt(variance)
    return ProportionTest(rate_a, rate_b, z, min(1.0, math.erfc(abs(z) / math.sqrt(2))))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (controls the family-wise error rate: a
    page comparing 40 endpoints at 0.01 does not flag one by chance 1 time in 3)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
