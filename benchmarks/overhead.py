"""Per-call cost of @lk.monitor against bare code and a floor recorder, side by side.

The floor recorder is the least any in-process recorder can do per call: two
``perf_counter_ns()`` readings and a ``deque.append``. Lookout's target is to add at most 1.5x
the floor's added cost. Each variant is timed in the same process, interleaved, and the median
of the repeats is reported.

    python benchmarks/overhead.py [--calls 200000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lookout import Lookout


def trivial(x: int) -> int:
    return x + 1


def floor_recorder(function: Callable[..., Any]) -> Callable[..., Any]:
    sink: deque[tuple[int, int]] = deque(maxlen=4096)  # bounded, like a real recorder
    append = sink.append
    perf_ns = time.perf_counter_ns

    def recorded(*args: Any, **kwargs: Any) -> Any:
        t0 = perf_ns()
        result = function(*args, **kwargs)
        append((t0, perf_ns()))
        return result

    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        lk = Lookout(
            store=f"sqlite:///{Path(folder) / 'bench.db'}",
            queue_size=10_000_000,
            sink_queue_size=10_000_000,
        )
        variants: dict[str, Callable[[int], int]] = {
            "bare": trivial,
            "floor recorder": floor_recorder(trivial),
            "@lk.monitor (SQLite)": lk.monitor(trivial),
            "@lk.monitor + extra": lk.monitor(extra={"team": "x", "n": lambda c: c.args[0]})(
                trivial
            ),
        }
        timings: dict[str, list[float]] = {name: [] for name in variants}
        totals: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, function in variants.items():
                lk.flush(60)  # start each timing with the background idle
                # CPU time of the calling thread only: what the call costs its caller, without
                # the time it spent waiting for the GIL while Lookout's workers ran.
                timer = timeit.Timer("f(1)", timer=time.thread_time, globals={"f": function})
                cpu_before = time.process_time()
                timings[name].append(timer.timeit(args.calls) / args.calls * 1e9)
                lk.flush(60)
                # CPU time of the whole process until everything is written: the full cost.
                totals[name].append((time.process_time() - cpu_before) / args.calls * 1e9)
        lk.close(60)
        stats = lk.stats()

    medians = {name: statistics.median(values) for name, values in timings.items()}
    total_medians = {name: statistics.median(values) for name, values in totals.items()}
    bare = medians["bare"]
    floor_added = medians["floor recorder"] - bare
    print(f"calling thread's CPU time per call (median of {args.repeats} x {args.calls:,} calls)")
    print(
        f"{'variant':<24} {'ns/call':>9} {'added ns':>9} {'x floor added':>14} "
        f"{'process CPU ns/call incl. writing':>34}"
    )
    for name, value in medians.items():
        added = value - bare
        ratio = added / floor_added if floor_added > 0 else float("nan")
        print(f"{name:<24} {value:>9.1f} {added:>9.1f} {ratio:>14.2f} {total_medians[name]:>34.0f}")
    sql = stats["sinks"]["sql"]
    print(
        f"\nrecorded: {sql['written']:,} written, {stats['dropped'] + sql['dropped']:,} dropped, "
        f"{sql['failed']:,} failed"
    )
    monitor_ratio = (medians["@lk.monitor (SQLite)"] - bare) / floor_added
    print(
        f"target: @lk.monitor added cost <= 1.5x the floor's: {monitor_ratio:.2f}x "
        f"({'met' if monitor_ratio <= 1.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
