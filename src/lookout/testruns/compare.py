"""Which tests got slower or faster between two sides (runs or versions), and how sure we are.

A test's change is the ratio of its median call durations (head / base - 1: +0.25 is 25 %
slower); its p-value comes from the Mann-Whitney U test over every repeat of both sides. A
change counts when it is significant (p below ``alpha``) *and* at least ``min_change`` in size:
with a few thousand tests, some pass the significance test by chance, and a 2 % change of a
2 ms test is rarely worth anyone's attention. The gate (``--fail-on-regression``) asks more:
significantly slower by at least its threshold.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lookout.testruns.stats import mann_whitney_u

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_CHANGE = 0.05


@dataclass(frozen=True)
class TestChange:
    """One test on both sides. ``verdict``: slower, faster, unchanged, new (head only), gone
    (base only). ``p_value`` is None when a side has no durations."""

    __test__ = False

    name: str
    base_ms: float | None
    head_ms: float | None
    change: float | None
    p_value: float | None
    base_n: int
    head_n: int
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_threshold(text: str) -> float:
    """``"20%"`` or ``"0.2"`` -> 0.2; ``ValueError`` for anything else, or not above 0."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"expected a percentage such as 20%, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"expected a percentage above 0, got {text!r}")
    return value


def compare(
    base: Mapping[str, Sequence[int]],
    head: Mapping[str, Sequence[int]],
    *,
    alpha: float = DEFAULT_ALPHA,
    min_change: float = DEFAULT_MIN_CHANGE,
) -> list[TestChange]:
    """Every test of either side, the largest relative slowdowns first.

    Args:
        base, head: each test's call durations in nanoseconds (all repeats, pooled).
        alpha: the significance level of each test's comparison.
        min_change: the smallest relative change reported as slower or faster.
    """
    changes = []
    for name in sorted(set(base) | set(head)):
        before, after = base.get(name) or (), head.get(name) or ()
        base_ms = statistics.median(before) / 1e6 if before else None
        head_ms = statistics.median(after) / 1e6 if after else None
        if base_ms is None or head_ms is None:
            verdict = "new" if base_ms is None else "gone"
            changes.append(
                TestChange(name, base_ms, head_ms, None, None, len(before), len(after), verdict)
            )
            continue
        change = head_ms / base_ms - 1 if base_ms > 0 else 0.0
        p_value = mann_whitney_u(after, before).p_value
        verdict = "unchanged"
        if p_value < alpha and abs(change) >= min_change:
            verdict = "slower" if change > 0 else "faster"
        changes.append(
            TestChange(name, base_ms, head_ms, change, p_value, len(before), len(after), verdict)
        )
    changes.sort(key=lambda c: (c.change is None, -(c.change or 0.0), c.name))
    return changes


def regressions(changes: Sequence[TestChange], threshold: float) -> list[TestChange]:
    """The tests significantly slower by at least ``threshold`` (0.2 for 20 %)."""
    return [
        change
        for change in changes
        if change.verdict == "slower" and change.change is not None and change.change >= threshold
    ]


def summary_line(changes: Sequence[TestChange]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.verdict] = counts.get(change.verdict, 0) + 1
    order = ("slower", "faster", "unchanged", "new", "gone")
    return ", ".join(f"{counts[v]} {v}" for v in order if counts.get(v))
