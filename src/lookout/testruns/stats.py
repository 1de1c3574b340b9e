"""The Mann-Whitney U test (two-sided), for "did this test's duration change?".

Why not SciPy: ``scipy.stats.mannwhitneyu`` gives the same answers (the tests check these
functions against values it computed), but SciPy and NumPy are some 80 MB to install into
every CI job for one function of about sixty lines.

Durations are not normally distributed (a long right tail, steps when a cache is cold), so a
rank test fits better than a t-test: it asks whether one sample tends to be larger than the
other, whatever the distributions' shapes. Small samples without ties get the exact
distribution of U (the coefficients of a Gaussian binomial, computed in O(m·m·n)); larger
ones, or any with ties, the normal approximation with tie and continuity corrections, as
SciPy's ``method="asymptotic"`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

#: Largest m·n for which the exact distribution is used (its cost grows with m·m·n).
EXACT_MAX_PRODUCT = 2500


@dataclass(frozen=True)
class MannWhitney:
    """U of the first sample (how many (x, y) pairs have x > y, ties counting half), the
    two-sided p-value, and which method gave it ("exact" or "asymptotic")."""

    u: float
    p_value: float
    method: str


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks (1-based) of ``values``, and the size of every group of ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mid
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


@lru_cache(maxsize=256)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings give each U = 0..m·n: the coefficients of the
    Gaussian binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)."""
    size = m * n + 1
    poly = [0] * size
    poly[0] = 1
    for i in range(1, m + 1):
        shift = n + i
        for power in range(size - 1, shift - 1, -1):  # multiply by (1 - q^(n+i))
            poly[power] -= poly[power - shift]
        for power in range(i, size):  # divide by (1 - q^i): a running sum with stride i
            poly[power] += poly[power - i]
    return tuple(poly)


def _exact_p(u_big: float, m: int, n: int) -> float:
    counts = _u_counts(min(m, n), max(m, n))
    total = math.comb(m + n, m)
    at_least = sum(counts[math.ceil(u_big) :])
    return min(1.0, 2 * at_least / total)


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> MannWhitney:
    """Two-sided Mann-Whitney U test of samples ``x`` and ``y``.

    Raises:
        ValueError: a sample is empty.
    """
    m, n = len(x), len(y)
    if not m or not n:
        raise ValueError("the Mann-Whitney U test needs two non-empty samples")
    ranks, ties = _ranks([*x, *y])
    u1 = sum(ranks[:m]) - m * (m + 1) / 2
    u_big = max(u1, m * n - u1)
    if not ties and m * n <= EXACT_MAX_PRODUCT:
        return MannWhitney(u1, _exact_p(u_big, m, n), "exact")
    total = m + n
    tie_term = sum(t**3 - t for t in ties) / (total * (total - 1))
    sigma = math.sqrt(m * n / 12 * ((total + 1) - tie_term))
    if sigma == 0:  # every value equal: no evidence of any difference
        return MannWhitney(u1, 1.0, "asymptotic")
    z = (u_big - m * n / 2 - 0.5) / sigma
    p = math.erfc(z / math.sqrt(2))  # 2 * P(Z > z)
    return MannWhitney(u1, min(1.0, max(0.0, p)), "asymptotic")
