"""One sink's worker: its bounded queue, and the thread that writes it in batches, retries,
and spools what the sink cannot take now; its ledger (:mod:`lookout.sink_ledger`) counts
every event exactly once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from lookout._internal import swallow_internal_errors
from lookout.coerce import make_safe
from lookout.events import Event
from lookout.sink_ledger import SinkLedger
from lookout.sink_queue import (
    MAX_RETRY_AFTER_S,
    FlushMarker,
    RetryPolicy,
    SinkQueue,
    describe_failure,
)
from lookout.sinks.base import InvalidData, PermanentWriteError, Sink, is_data_error
from lookout.spool import Spool

logger = logging.getLogger("lookout.recorder")


class SinkWorker:
    """One sink's bounded queue and the thread that writes it in batches.

    Counting is exact (see :class:`~lookout.sink_ledger.SinkLedger`): once close() has
    counted what was left (:meth:`abandon`), a write that comes back late counts and writes
    nothing more.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        queue_size: int,
        batch_size: int,
        batch_interval: float,
        retry: RetryPolicy,
    ) -> None:
        self.sink = sink
        self.name = getattr(sink, "name", type(sink).__name__)
        #: the sink's disk spool (see :mod:`lookout.spool`), when it has one
        self.spool: Spool | None = getattr(sink, "spool", None)
        self.queue_size = queue_size
        #: a sink that wants larger batches says so (ClickHouse: one part per insert)
        self.batch_size = max(batch_size, getattr(sink, "min_batch_size", 0))
        self.batch_interval = batch_interval
        self.retry = retry
        self._init_state()

    def _init_state(self) -> None:
        self.queue = SinkQueue()
        self.ledger = SinkLedger()
        #: no write is tried before this (monotonic): the sink failed and its batches spool
        self._down_until = 0.0
        self._probes = 0
        self._wake = threading.Event()
        self._interrupt = threading.Event()
        self._closing = False
        self._deadline: float | None = None
        self._worker_thread = threading.Thread(
            target=self._run, name=f"lookout-sink-{self.name}", daemon=True
        )

    def start(self) -> None:
        self._worker_thread.start()

    # -- dispatcher side -------------------------------------------------------------------
    def offer(self, events: Sequence[Event]) -> None:
        """Queue what fits; count the rest as dropped. Called by the dispatcher only."""
        if self.ledger.abandoned:
            return  # close() has counted this worker for the last time
        room = self.queue_size - self.queue.depth()
        accepted = events if len(events) <= room else events[: max(room, 0)]
        self.queue.put(accepted)
        self.ledger.offered(len(accepted), len(events) - len(accepted))
        if len(self.queue) >= self.batch_size:
            self._wake.set()

    def offer_marker(self, marker: FlushMarker) -> None:
        self.queue.put_marker(marker)
        self._wake.set()

    # -- worker side -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self.ledger.abandoned:
            self._wake.wait(self.batch_interval)
            self._wake.clear()
            if self.spool is not None and not self._closing:
                with swallow_internal_errors(f"replaying the spool of sink {self.name!r}"):
                    self.spool.claim()
                    self._replay()
            while self.queue and not self.ledger.abandoned:
                with swallow_internal_errors(f"writing a batch to sink {self.name!r}"):
                    self._write_next_batch()  # a bug here must not stop the worker for good
            if self._closing and not self.queue:
                return

    def _replay(self) -> None:
        """Write the spool's records, oldest first, while the sink takes them (not before the
        backoff after a failure has passed)."""
        spool = self.spool
        while spool is not None and spool.pending and not self.ledger.abandoned:
            if time.monotonic() < self._down_until:
                return
            record = spool.peek()
            if record is None:
                return
            reference, items = record
            try:
                self.sink.write(items)
            except Exception as exc:
                if not (isinstance(exc, InvalidData) or is_data_error(exc)):
                    self._note_down(exc)
                    return
                self._bisect(items, exc)  # its events were counted spooled: now per outcome
            else:
                self._probes = 0
            spool.done(reference)

    def _note_down(self, error: BaseException) -> None:
        """The sink failed: spool, and try it again after a growing delay."""
        self._probes += 1
        delay = self.retry.delay(self._probes)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, (int, float)) and retry_after > delay:
            delay = min(float(retry_after), MAX_RETRY_AFTER_S)
        self.ledger.note_error(describe_failure(error))
        self._down_until = time.monotonic() + delay

    def _to_spool(self, part: Sequence[Any]) -> bool:
        """Spool a part not yet counted; False (nothing counted) without a spool or room."""
        spool = self.spool
        if spool is None:
            return False
        with self.ledger.lock:
            if self.ledger.abandoned:
                return True
        if not spool.append(make_safe(list(part))):
            return False
        return self.ledger.settle(part, spooled=len(part))

    def _write_next_batch(self) -> None:
        ledger = self.ledger
        with ledger.lock:
            if ledger.abandoned:
                return
            batch, marker = self.queue.take(self.batch_size)
            if batch:
                ledger.in_flight(batch)
        if batch:
            spool = self.spool
            if spool is not None and spool.pending and not self._replay_first():
                # the sink is down, or older batches wait on disk: after them, in order
                if not self._to_spool(batch):
                    self.ledger.settle(batch, failed=len(batch))
            else:
                self._write_batch(batch)
        if marker is not None:
            marker.reached()

    def _replay_first(self) -> bool:
        """Replay the spool now if the sink may be tried; True when it is empty after."""
        if self._closing or time.monotonic() < self._down_until:
            return False
        self._replay()
        return self.spool is None or not self.spool.pending

    def _write_batch(self, batch: list[Any]) -> None:
        """Write ``batch``; when the destination refuses its data, make its strings safe and
        try once more, then split it until the events at fault are found (counted invalid)."""
        error = self._write_part(batch)
        if error is None:
            return
        safe: list[Any] = make_safe(batch)
        if safe is not batch:
            if not self.ledger.split(batch, [safe]):
                return
            batch = safe
            error = self._write_part(batch)
            if error is None:
                return
        self._bisect(batch, error)

    def _bisect(self, batch: list[Any], error: BaseException) -> None:
        """Halve a refused batch until each refused part is one event: log2(n) writes per event
        at fault, no waiting (a refusal for the data is not retried)."""
        parts: list[list[Any]] = [batch]
        while parts:
            part = parts.pop()
            if len(part) == 1:
                self._count_invalid(part, error)
                continue
            middle = len(part) // 2
            halves = [part[:middle], part[middle:]]
            if not self.ledger.split(part, halves):
                return
            refused: list[list[Any]] = []
            for half in halves:
                half_error = self._write_part(half)
                if half_error is not None:
                    error = half_error
                    refused.append(half)
                if self.ledger.abandoned:
                    return
            parts.extend(reversed(refused))  # the earlier half is split first

    def _write_part(self, batch: list[Any]) -> BaseException | None:
        """Write with retries of transient errors; count the outcome. Returns the error when
        the destination refused the batch's data (the caller splits it), None otherwise."""
        attempt = 0
        while True:
            if self.ledger.abandoned:
                return None
            try:
                self.sink.write(batch)
            except Exception as exc:
                attempt += 1
                reason = describe_failure(exc)
                data_error = isinstance(exc, InvalidData) or (
                    not isinstance(exc, PermanentWriteError) and is_data_error(exc)
                )
                if not self.ledger.note_error(reason):
                    return None
                if data_error:
                    rejected = getattr(exc, "rejected", None)
                    if isinstance(rejected, int) and 0 <= rejected <= len(batch):
                        self.ledger.settle(
                            batch,
                            written=len(batch) - rejected,
                            invalid=rejected,
                            invalid_reason=reason,
                        )
                        return None  # a partial write: the destination kept the others
                    return exc
                if self.spool is not None and not isinstance(exc, PermanentWriteError):
                    # to disk at once: the next batches go there too until the sink is back
                    self._note_down(exc)
                    if self._to_spool(batch):
                        return None
                delay = self.retry.delay(attempt)
                retry_after = getattr(exc, "retry_after", None)
                if isinstance(retry_after, (int, float)) and retry_after > delay:
                    delay = min(float(retry_after), MAX_RETRY_AFTER_S)  # the destination said
                if (
                    isinstance(exc, PermanentWriteError)
                    or attempt > self.retry.max_retries
                    or not self._may_wait(delay)
                ):
                    refused = len(batch)
                    if isinstance(exc, PermanentWriteError) and exc.rejected is not None:
                        refused = max(0, min(refused, exc.rejected))  # a partial write
                    if self.ledger.settle(batch, written=len(batch) - refused, failed=refused):
                        logger.warning(
                            "lookout: sink %r failed to write %d of %d events after %d "
                            "attempts: %s",
                            self.name,
                            refused,
                            len(batch),
                            attempt,
                            reason,
                        )
                    return None
                if not self.ledger.note_retry():
                    return None
                self._interrupt.wait(delay)  # close() cuts a long backoff short
            else:
                if not self.ledger.settle(batch, written=len(batch)):
                    self._written_after_close()
                return None

    def _written_after_close(self) -> None:
        """A write in flight when close() gave up came back written: cancel its spooled copy,
        then release the spool (close() left it open for this)."""
        spool, record = self.spool, self.ledger.in_flight_record
        if spool is not None and record is not None:
            self.ledger.in_flight_record = None
            with swallow_internal_errors(f"cancelling a spooled batch of sink {self.name!r}"):
                spool.done(record, replayed=False)
        if spool is not None:
            with swallow_internal_errors(f"closing the spool of sink {self.name!r}"):
                spool.close()

    def _count_invalid(self, part: list[Any], error: BaseException) -> None:
        reason = describe_failure(error)
        if self.ledger.settle(part, invalid=len(part), invalid_reason=reason):
            logger.warning(
                "lookout: sink %r refused an event for its data (counted invalid): %s",
                self.name,
                reason,
            )

    def _may_wait(self, delay: float) -> bool:
        """False when waiting ``delay`` more seconds would overrun a close deadline."""
        return self._deadline is None or time.monotonic() + delay < self._deadline

    # -- lifecycle ---------------------------------------------------------------------------
    def begin_close(self, deadline: float) -> None:
        self._deadline = deadline
        self._closing = True
        self._wake.set()
        self._interrupt.set()

    def join(self, deadline: float) -> bool:
        self._worker_thread.join(max(0.0, deadline - time.monotonic()))
        return not self._worker_thread.is_alive()

    @property
    def abandoned(self) -> bool:
        return self.ledger.abandoned

    def abandon(self) -> int:
        """Close gave up on this worker: count what is queued and in flight as dropped (or
        spooled), once; after this the worker thread, whenever its write comes back, counts
        nothing and starts no other write. Returns how many events were counted."""
        markers: list[FlushMarker] = []

        def drain() -> list[Any]:
            events, found = self.queue.drain()
            markers.extend(found)
            return events

        left = self.ledger.abandon(drain, self.spool)
        if left is None:
            return 0
        for marker in markers:
            marker.reached()  # nobody waits on a closed recorder's flush for nothing
        self._interrupt.set()
        return left

    def reset_after_fork(self) -> None:
        self._init_state()
        if self.spool is not None:
            self.spool.after_fork()
        after_fork = getattr(self.sink, "after_fork", None)
        if after_fork is not None:
            with swallow_internal_errors(f"resetting sink {self.name!r} after fork"):
                after_fork()
        self.start()

    def stats(self) -> dict[str, Any]:
        ledger = self.ledger
        return {
            "emitted": ledger.emitted,
            "written": ledger.written,
            "retried": ledger.retried,
            "dropped": ledger.dropped,
            "failed": ledger.failed,
            "invalid": ledger.invalid,
            "spooled": ledger.spooled,
            "queue_depth": self.queue.depth(),  # a pending flush marker may count as one
            "last_error": ledger.last_error,
            "last_error_ns": ledger.last_error_ns,
            "last_invalid": ledger.last_invalid,
            "spool": None if self.spool is None else self.spool.stats(),
        }
