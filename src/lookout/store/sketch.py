"""A mergeable latency sketch with bounded relative error (the DDSketch scheme).

Durations fall into logarithmic buckets ``(gamma**(i-1), gamma**i]``, so any quantile read back
is within ``RELATIVE_ACCURACY`` (1 %) of the true value, whatever the distribution, and two
sketches merge by adding bucket counts. That is what lets a per-minute rollup row answer
"p99 over the last 7 days" by merging rows, without keeping raw events.

The bucket scheme is part of the stored format: changing ``RELATIVE_ACCURACY`` needs a migration.
See Masson, Rim and Lee, "DDSketch", VLDB 2019.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
_INV_LOG_GAMMA = 1 / _LOG_GAMMA


def bucket_index(value: float) -> int:
    """The bucket of a positive value; values below 1 (ns) share bucket 0."""
    if value <= 1:
        return 0
    return math.ceil(math.log(value) * _INV_LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The representative value of a bucket: within RELATIVE_ACCURACY of anything in it."""
    if index <= 0:
        return 1.0 if index == 0 else 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


class LatencySketch:
    """Bucket counts of durations in nanoseconds."""

    __slots__ = ("buckets", "count")

    def __init__(self, buckets: Mapping[int, int] | None = None) -> None:
        self.buckets: dict[int, int] = dict(buckets or {})
        self.count = sum(self.buckets.values())

    def add(self, value_ns: float, count: int = 1) -> None:
        index = bucket_index(value_ns)
        self.buckets[index] = self.buckets.get(index, 0) + count
        self.count += count

    def merge(self, other: LatencySketch | Mapping[int, int]) -> None:
        buckets = other.buckets if isinstance(other, LatencySketch) else other
        mine = self.buckets
        for index, count in buckets.items():
            mine[index] = mine.get(index, 0) + count
            self.count += count

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1) in nanoseconds, or None for an empty sketch."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be between 0 and 1; got {q}")
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                return bucket_value(index)
        return bucket_value(max(self.buckets))  # pragma: no cover - rounding guard

    def to_json(self) -> str:
        """A flat JSON array ``[index, count, index, count, ...]``.

        Flat integers parse several times faster than an object with string keys, and rollup
        rows are read and rewritten on every batch.
        """
        flat: list[int] = []
        for index, count in self.buckets.items():
            flat += (index, count)
        return json.dumps(flat, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> LatencySketch:
        if not text:
            return cls()
        flat = json.loads(text)
        buckets = dict(zip(flat[::2], flat[1::2], strict=True))
        if 2 * len(buckets) < len(flat):
            # A bucket twice: sketches concatenated by a query (store/delta_reads.py), whose
            # merge adds each bucket's counts; one stored sketch has each bucket once.
            buckets = {}
            for index, count in zip(flat[::2], flat[1::2], strict=True):
                buckets[index] = buckets.get(index, 0) + count
        return cls(buckets)

    @classmethod
    def of(cls, values_ns: Iterable[float]) -> LatencySketch:
        """A sketch of many values at once: one loop, which the compiled build (docs/native.md)
        runs as C (``bucket_index`` and its ``math`` calls included)."""
        buckets: dict[int, int] = {}
        for value in values_ns:
            index = bucket_index(value)
            buckets[index] = buckets.get(index, 0) + 1
        return cls(buckets)
