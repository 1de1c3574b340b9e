"""A dead sink with 100,000 events queued behind it costs the host's garbage collector nothing:
queued events past the first few thousand are packed into bytes the collector never walks.

Measured as the collector's own time in the host thread (``gc.callbacks``, thread CPU time, so
another process's load on the machine does not count), against the same process before the
queue filled; and the process's RSS while the dead sink stays dead at 2,000 events/s for 2
minutes (20 s unless LOOKOUT_TEST_FULL_LENGTH=1, as in CI's last pass; the queue is full from the
start either way).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import pytest

from lookout import Lookout
from lookout.sinks.http import HttpSink
from tests.faults.durations import seconds
from tests.faults.postgres import _free_port

#: how long the sink stays dead while the host keeps calling
DEAD_FOR = seconds(20, 120)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class CollectionTimer:
    """The thread CPU time of every full (generation 2) collection in this thread."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.pauses.append(time.thread_time() - self._started)

    def full_collection(self) -> float:
        """One full collection's time. gc.collect() returns at once, with no callbacks, when
        another thread (a sink worker) is collecting at that moment: then it is tried again."""
        before = len(self.pauses)
        for _ in range(50):
            gc.collect()
            if len(self.pauses) > before:
                return self.pauses[before]
            time.sleep(0.01)
        raise AssertionError("50 calls of gc.collect() in a row found another collection running")


@pytest.mark.timeout(seconds(120, 250))
def test_a_dead_sink_with_100000_queued_events_costs_no_collection_pause() -> None:
    dead = f"http://127.0.0.1:{_free_port()}/ingest"  # nothing listens: connection refused
    lk = Lookout(
        store=None,
        sinks=[HttpSink(dead, timeout=1)],
        sink_queue_size=100_000,
        queue_size=100_000,
        max_retries=10_000,
        retry_backoff=5,
        batch_interval=0.05,
    )

    @lk.monitor(name="host.work", extra={"order": lambda call: {"id": call.args[0], "n": 3}})
    def work(n: int) -> int:
        return n

    timer = CollectionTimer()
    gc.callbacks.append(timer)
    try:
        gc.collect()
        tracked_before = len(gc.get_objects())
        baseline = min(timer.full_collection() for _ in range(3))
        for n in range(100_000):
            work(n)
        deadline = time.monotonic() + 60
        while lk.stats()["sinks"]["http"]["queue_depth"] < 99_000:
            assert time.monotonic() < deadline, lk.stats()
            time.sleep(0.1)
        gc.collect()
        tracked = len(gc.get_objects()) - tracked_before
        full = min(timer.full_collection() for _ in range(3))
        rss_start = _rss_mb()
        started = time.monotonic()
        timer.pauses.clear()
        longest_call = 0.0
        n = 100_000
        while time.monotonic() - started < DEAD_FOR:
            t0 = time.perf_counter()
            work(n)
            longest_call = max(longest_call, time.perf_counter() - t0)
            n += 1
            time.sleep(0.0005)
        natural = max(timer.pauses, default=0.0)
        rss_growth = _rss_mb() - rss_start
        stats = lk.stats()["sinks"]["http"]
    finally:
        gc.callbacks.remove(timer)
        lk.close(1)
    print(
        f"objects the collector tracks, added by 100,000 queued events: {tracked:,}; "
        f"full collection: {baseline * 1000:.1f} ms before, {full * 1000:.1f} ms with "
        f"{stats['queue_depth']:,} queued; longest natural full collection over {DEAD_FOR:.0f} s "
        f"{natural * 1000:.1f} ms; longest host call {longest_call * 1000:.1f} ms (wall clock); "
        f"RSS growth {rss_growth:.1f} MB; {n - 100_000:,} calls"
    )
    # Deterministic: what a collection walks (unpacked, 100,000 events added 201,332 objects,
    # and 102 ms to a full collection here). Timings move with the machine's load, so the
    # time is checked with a margin and reported.
    assert tracked < 12_000
    # The target is 10 ms; measured 2-4 ms on an idle machine, 25 ms once under a load of 8 on
    # 2 cores: the bound leaves room for that noise (docs/reliability.md gives the figures).
    # In the whole suite's process a full collection walks every test's objects (0.8-0.9 s of
    # thread CPU there, against 0.08 s alone) and varied by up to 24 % between the two
    # measurements on an idle machine (787 -> 976 ms, with the 9,147 added objects above), so
    # 30 % of it is allowed as noise; alone the bound is 74 ms and the added time 3 ms.
    allowed = 0.050 + 0.3 * baseline
    assert full - baseline < allowed  # what the queue adds to a full collection
    assert natural < baseline + allowed
    assert rss_growth < 50
    assert stats["dropped"] > 0  # the queue stayed full: what did not fit was counted
