from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence

import pytest

from lookout import Lookout, make_event
from lookout.events import Event
from lookout.recorder import Recorder, RetryPolicy
from lookout.redact import Redactor
from lookout.sinks.base import BaseSink
from lookout.testing import InMemorySink

FAST_RETRY = RetryPolicy(max_retries=2, backoff=0.01, max_backoff=0.02)


class RaisingSink(BaseSink):
    name = "raising"

    def __init__(self) -> None:
        self.attempts = 0

    def write(self, batch: Sequence[Event]) -> None:
        self.attempts += 1
        raise ConnectionError("server went away")


class HangingSink(BaseSink):
    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, batch: Sequence[Event]) -> None:
        self.entered.set()
        self.release.wait(30)


class FlakySink(InMemorySink):
    """Fails the first ``failures`` writes, then works."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def write(self, batch: Sequence[Event]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise TimeoutError("slow down")
        super().write(batch)


def _event(n: int = 0) -> Event:
    return make_event("call", f"f{n % 3}", duration_ns=1000 + n)


def test_many_threads_emitting_are_all_written_exactly_once() -> None:
    sink = InMemorySink()
    recorder = Recorder([sink], batch_size=100, batch_interval=0.01)
    threads, per_thread = 8, 5000

    def produce(thread: int) -> None:
        for n in range(per_thread):
            recorder.emit(make_event("call", f"t{thread}", duration_ns=n))

    workers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert recorder.flush(10)
    stats = recorder.stats()
    assert len(sink.events) == threads * per_thread
    for thread in range(threads):
        durations = [e.duration_ns for e in sink.events if e.name == f"t{thread}"]
        assert durations == list(range(per_thread))  # per producer, order is kept
    assert stats["sinks"]["memory"]["written"] == threads * per_thread
    assert stats["dropped"] == 0 and stats["sinks"]["memory"]["dropped"] == 0
    recorder.close()


def test_failing_sink_is_retried_counted_and_isolated() -> None:
    good, bad = InMemorySink(), RaisingSink()
    recorder = Recorder([bad, good], batch_size=10, batch_interval=0.01, retry=FAST_RETRY)
    for n in range(25):
        recorder.emit(_event(n))
    assert recorder.flush(10)
    stats = recorder.stats()["sinks"]
    assert len(good.events) == 25
    assert stats["memory"]["written"] == 25
    assert stats["raising"]["written"] == 0
    assert stats["raising"]["failed"] == 25
    assert stats["raising"]["retried"] == bad.attempts - 3  # 3 batches, each 1 try + retries
    assert stats["raising"]["last_error"] == "ConnectionError: server went away"
    recorder.close()


def test_transient_failure_is_retried_until_written() -> None:
    sink = FlakySink(failures=2)
    recorder = Recorder([sink], batch_interval=0.01, retry=FAST_RETRY)
    for n in range(5):
        recorder.emit(_event(n))
    assert recorder.flush(10)
    stats = recorder.stats()["sinks"]["flaky"]
    assert (stats["written"], stats["retried"], stats["failed"]) == (5, 2, 0)
    recorder.close()


def test_hanging_sink_never_delays_the_others_or_the_caller() -> None:
    good, stuck = InMemorySink(), HangingSink()
    recorder = Recorder([stuck, good], sink_queue_size=200, batch_size=10, batch_interval=0.01)
    recorder.emit(_event())
    assert stuck.entered.wait(5)  # the hanging sink now holds a batch of one event
    for burst in range(10):
        started = time.perf_counter()
        for n in range(50):
            recorder.emit(_event(burst * 50 + n))
        assert time.perf_counter() - started < 0.2  # the caller never waits on a sink
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while len(good.events) < 501 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(good.events) == 501
    stats = recorder.stats()["sinks"]
    assert stats["memory"]["dropped"] == 0
    assert stats["hanging"]["queue_depth"] == 200
    assert stats["hanging"]["dropped"] == 300  # its queue is full: the rest is counted
    assert recorder.flush(0.2) is False  # reports that it could not finish
    stuck.release.set()
    assert recorder.close(5)


def test_full_queue_counts_drops_without_blocking() -> None:
    stuck = HangingSink()
    recorder = Recorder([stuck], queue_size=100, sink_queue_size=100, batch_size=10)
    recorder.emit(_event())
    assert stuck.entered.wait(5)
    events = [_event(n) for n in range(100_000)]  # built first: only emit() is timed
    started = time.perf_counter()
    accepted = sum(recorder.emit(event) for event in events)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0
    stats = recorder.stats()
    total_dropped = stats["dropped"] + stats["sinks"]["hanging"]["dropped"]
    assert total_dropped > 0
    assert stats["dropped"] == 100_000 - accepted  # every refused emit is counted at ingress
    stuck.release.set()
    recorder.close(5)


def test_close_writes_everything_queued_and_later_emits_count_as_dropped() -> None:
    sink = InMemorySink()
    recorder = Recorder([sink], batch_interval=5.0)  # only close() makes it write
    for n in range(1000):
        recorder.emit(_event(n))
    assert recorder.close(10)
    assert len(sink.events) == 1000
    assert recorder.emit(_event()) is False
    assert recorder.stats()["dropped"] == 1


def test_redaction_and_bounds_apply_to_directly_emitted_events() -> None:
    sink = InMemorySink()
    recorder = Recorder(
        [sink], batch_interval=0.01, redactor=Redactor(redact_keys=["password", "token"])
    )
    recorder.emit(
        Event(
            "call",
            "raw",
            1,
            fields={"password": "p", "when": object()},
            tags={"token": "t", "team": "a"},
        )
    )
    recorder.flush(5)
    [event] = sink.events
    assert event.fields["password"] == "[REDACTED]"
    assert str(event.fields["when"]).startswith("<object object")
    assert event.tags == {"token": "[REDACTED]", "team": "a"}
    assert event.pid == os.getpid()
    recorder.close()


def _child_records(url: str, connection: multiprocessing.connection.Connection) -> None:
    lk = _shared_instance
    assert lk is not None
    monitored = lk.monitor(name="in-child")(lambda: None)
    for _ in range(50):
        monitored()
    connection.send(lk.flush(10))
    lk.close()


_shared_instance: Lookout | None = None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_records_into_the_store(sqlite_url: str) -> None:
    global _shared_instance
    lk = _shared_instance = Lookout(store=sqlite_url, batch_interval=0.01)
    parent_call = lk.monitor(name="in-parent")(lambda: None)
    parent_call()
    assert lk.flush(10)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_records, args=(sqlite_url, sender))
    child.start()
    assert receiver.poll(30), "the child did not report back"
    assert receiver.recv() is True
    child.join(30)
    assert child.exitcode == 0
    parent_call()
    assert lk.flush(10)
    from lookout.store.queries import summarize

    assert lk.store is not None
    counts = {s.name: s.count for s in summarize(lk.store, since_s=600)}
    assert counts == {"in-parent": 2, "in-child": 50}
    lk.close()
    _shared_instance = None


class CountingHangingSink(HangingSink):
    """Hangs on its first write; counts every write it is asked for, and what it kept."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.kept = 0

    def write(self, batch: Sequence[Event]) -> None:
        self.writes += 1
        super().write(batch)
        self.kept += len(batch)


def test_close_while_a_sink_hangs_counts_every_event_once_and_then_nothing() -> None:
    stuck = CountingHangingSink()
    recorder = Recorder([stuck], batch_size=1000, batch_interval=0.01)
    for n in range(5000):
        recorder.emit(_event(n))
    assert stuck.entered.wait(5)
    assert recorder.close(0.5) is False
    stats = recorder.stats()["sinks"]["hanging"]
    counted = stats["written"] + stats["failed"] + stats["dropped"] + stats["invalid"]
    assert (stats["emitted"], counted, stats["dropped"]) == (5000, 5000, 5000)
    writes = stuck.writes
    stuck.release.set()  # the write in flight comes back after close() returned
    time.sleep(0.3)
    assert recorder.stats()["sinks"]["hanging"] == stats  # nothing counted after close()
    assert stuck.writes == writes == 1  # and no other write started


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot print me")


def test_an_extra_raising_an_unprintable_exception_still_records_the_call() -> None:
    sink = InMemorySink()
    lk = Lookout(store=None, sinks=[sink], batch_interval=0.01)

    def broken(call: object) -> object:
        raise UnprintableError

    @lk.monitor(extra={"amount": broken})
    def charge() -> int:
        return 1

    assert charge() == 1
    assert lk.flush(5)
    lk.close()
    (event,) = sink.events
    assert event.fields["amount"] is None
    assert event.fields["amount.error"] == "UnprintableError: <unprintable>"
