"""Comparing two sides' durations: the slowed test is found, unchanged ones are not flagged
more often than the significance level says."""

from __future__ import annotations

import random

import pytest

from lookout.testruns.compare import compare, parse_threshold, regressions, summary_line


def _noisy(rng: random.Random, median_ms: float, n: int) -> list[int]:
    """Durations as tests have them: a lognormal spread around a median, in nanoseconds."""
    return [int(median_ms * 1e6 * rng.lognormvariate(0, 0.15)) for _ in range(n)]


def test_a_slowed_test_is_found_and_an_unchanged_one_is_not() -> None:
    rng = random.Random(7)
    base = {"t::slow": _noisy(rng, 10, 10), "t::same": _noisy(rng, 10, 10), "t::gone": [1]}
    head = {"t::slow": _noisy(rng, 14, 10), "t::same": _noisy(rng, 10, 10), "t::new": [1]}
    changes = {c.name: c for c in compare(base, head)}
    slow = changes["t::slow"]
    assert slow.verdict == "slower" and slow.p_value is not None and slow.p_value < 0.01
    assert 0.2 < (slow.change or 0) < 0.7
    assert changes["t::same"].verdict == "unchanged"
    assert (changes["t::new"].verdict, changes["t::gone"].verdict) == ("new", "gone")
    assert [c.name for c in regressions(list(changes.values()), 0.2)] == ["t::slow"]
    assert regressions(list(changes.values()), 0.9) == []
    assert summary_line(list(changes.values())) == "1 slower, 1 unchanged, 1 new, 1 gone"


@pytest.mark.parametrize("repeats", [5, 10, 30])
def test_false_positive_rate_stays_under_the_level(repeats: int) -> None:
    """2,000 comparisons of one unchanged test over noisy repeats: the share called slower or
    faster stays under alpha (the gate's threshold aside: min_change=0 here)."""
    rng = random.Random(repeats)
    alpha, trials = 0.05, 2000
    flagged = 0
    for _ in range(trials):
        changes = compare(
            {"t": _noisy(rng, 5, repeats)},
            {"t": _noisy(rng, 5, repeats)},
            alpha=alpha,
            min_change=0.0,
        )
        flagged += changes[0].verdict != "unchanged"
    assert flagged / trials <= alpha
    assert flagged > 0  # the test can flag at all: a level that is never reached proves nothing


def test_a_real_slowdown_is_found_nearly_always() -> None:
    rng = random.Random(11)
    found = sum(
        compare({"t": _noisy(rng, 5, 10)}, {"t": _noisy(rng, 6.5, 10)})[0].verdict == "slower"
        for _ in range(200)
    )
    assert found >= 180  # power of 10 repeats against a 30 % slowdown: about 94 %


def test_thresholds_parse() -> None:
    assert parse_threshold("20%") == pytest.approx(0.2)
    assert parse_threshold("0.35") == pytest.approx(0.35)
    for bad in ("abc", "0%", "-5%"):
        with pytest.raises(ValueError, match="percentage"):
            parse_threshold(bad)
