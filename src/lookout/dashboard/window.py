"""Which buckets a chart draws: their size follows the range *and* the data, and ticks are round.

A fixed bucket per range (minutes up to a day) drew a minute of data in a 24 h range as one
bar in 1,440, too thin to see, and left the rest of the chart empty. Here the span drawn starts
where the data starts (never before the range, and at least ``MIN_SPAN_S`` wide), and the
bucket is the smallest round size that keeps the chart to ``MAX_POINTS`` points. Every bucket
of the span is listed, so an empty one is a gap (None), never a line drawn across it.

Pure functions of numbers: the callers (:mod:`lookout.dashboard.app_data`) read the data's
first and last bucket from the rollups and pass them in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Bucket sizes a chart may use (seconds): each divides the next, and all divide a day.
BUCKETS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
#: Most points one chart draws (a 24 h range: 10-minute buckets, 144 points).
MAX_POINTS = 240
#: The narrowest span drawn: a single minute of data shows as one bar among 30.
MIN_SPAN_S = 1800
#: Steps of the time axis's ticks (seconds), round to a reader.
TIME_STEPS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400)


@dataclass(frozen=True, slots=True)
class ChartWindow:
    """The span a chart draws, ``[start_s, end_s)``, cut into ``bucket_s`` buckets.

    ``range_start_s``/``range_end_s`` are what was asked for; ``start_s`` may be later (where
    the data starts). ``time_step_s`` is a round distance between the time axis's ticks."""

    range_start_s: int
    range_end_s: int
    start_s: int
    end_s: int
    bucket_s: int
    time_step_s: int

    @property
    def buckets(self) -> list[int]:
        """Every bucket's start, oldest first, empty ones included."""
        return list(range(self.start_s, self.end_s, self.bucket_s))

    def as_dict(self) -> dict[str, int]:
        return {
            "range_from": self.range_start_s,
            "range_to": self.range_end_s,
            "from": self.start_s,
            "to": self.end_s,
            "bucket_s": self.bucket_s,
            "time_step_s": self.time_step_s,
        }


def bucket_for(span_s: int, max_points: int = MAX_POINTS) -> int:
    """The smallest round bucket that cuts ``span_s`` into at most ``max_points`` buckets."""
    for size in BUCKETS_S:
        if math.ceil(span_s / size) <= max_points:
            return size
    return BUCKETS_S[-1]


def time_step(span_s: int, ticks: int = 6) -> int:
    """A round tick step giving about ``ticks`` ticks over ``span_s``."""
    for step in TIME_STEPS_S:
        if span_s / step <= ticks:
            return step
    return TIME_STEPS_S[-1] * math.ceil(span_s / ticks / TIME_STEPS_S[-1])


def chart_window(
    start_s: int,
    end_s: int,
    *,
    first_data_s: int | None,
    max_points: int = MAX_POINTS,
) -> ChartWindow:
    """The window to draw for the range ``[start_s, end_s)`` whose data starts at
    ``first_data_s`` (None: no data, the whole range is drawn).

    The span runs from the data's first bucket (or ``MIN_SPAN_S`` before the end, whichever is
    earlier, but never before the range) to the range's end, so data that stopped early still
    shows the silence after it up to now."""
    if end_s <= start_s:
        raise ValueError("the range must end after it starts")
    first = start_s if first_data_s is None else min(max(first_data_s, start_s), end_s - 1)
    first = max(start_s, min(first, end_s - MIN_SPAN_S))
    bucket = bucket_for(end_s - first, max_points)
    span_start = first // bucket * bucket
    span_end = -(-end_s // bucket) * bucket
    return ChartWindow(
        range_start_s=start_s,
        range_end_s=end_s,
        start_s=span_start,
        end_s=span_end,
        bucket_s=bucket,
        time_step_s=time_step(span_end - span_start),
    )


def round_ticks(top: float | None, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2, 2.5 or 5 times a power of
    ten (0, 250, 500 ... rather than 0, 200, 399, 599), about ``count`` of them; ``integer``
    (counts) keeps steps whole."""
    if top is None or not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    factors = (1, 2, 5, 10) if integer and power < 10 else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in factors if m * power >= raw)
    if integer:
        step = max(1, round(step))
    ticks = []
    value = 0.0
    while True:
        ticks.append(_clean(value))
        if value >= top:
            break
        value += step
    return ticks


def _clean(value: float) -> float:
    """A tick without binary noise (0.30000000000000004 -> 0.3)."""
    return float(f"{value:.12g}")
