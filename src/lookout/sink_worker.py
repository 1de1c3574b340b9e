"""One sink's worker: its bounded queue, and the thread that writes it in batches, retries,
spools what the sink cannot take now, and counts every event exactly once."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from lookout._internal import swallow_internal_errors
from lookout.coerce import make_safe
from lookout.events import Event
from lookout.sink_queue import (
    MAX_RETRY_AFTER_S,
    PACK_AFTER,
    FlushMarker,
    Packed,
    RetryPolicy,
    describe_failure,
)
from lookout.sinks.base import InvalidData, PermanentWriteError, Sink, is_data_error
from lookout.spool import Spool

logger = logging.getLogger("lookout.recorder")


class SinkWorker:
    """One sink's bounded queue and the thread that writes it in batches.

    Counting is exact: every event offered ends in exactly one of ``written``, ``failed``,
    ``invalid`` (the destination refused its data), ``dropped`` (no room, or still queued or in
    flight when close() gave up) or, with a spool, the spool. The worker counts under
    ``_lock``; :meth:`abandon` takes it too, so once close() has counted what was left, a
    write that comes back late counts (and writes) nothing more.
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
        self.queue: deque[Any] = deque()
        #: events and chunks packed by the dispatcher, and unpacked by the worker: each
        #: counter has one writer, so the queue's depth in events needs no lock
        self._packed_in = self._packed_out = self._chunks_in = self._chunks_out = 0
        self.emitted = self.written = self.retried = self.dropped = self.failed = 0
        self.invalid = self.spooled = 0
        #: no write is tried before this (monotonic): the sink failed and its batches spool
        self._down_until = 0.0
        self._probes = 0
        self.last_error: str | None = None
        self.last_error_ns: int | None = None
        self.last_invalid: str | None = None
        self._wake = threading.Event()
        self._interrupt = threading.Event()
        self._lock = threading.Lock()
        self._closing = False
        self._abandoned = False
        #: the spool record of a batch in flight when close() gave up (see abandon)
        self._in_flight_record: Any = None
        #: the parts of the batch being written that are not counted yet (close() counts them)
        self._unsettled: list[Sequence[Any]] = []
        self._deadline: float | None = None
        self._worker_thread = threading.Thread(
            target=self._run, name=f"lookout-sink-{self.name}", daemon=True
        )

    def start(self) -> None:
        self._worker_thread.start()

    # -- dispatcher side -------------------------------------------------------------------
    def offer(self, events: Sequence[Event]) -> None:
        """Queue what fits; count the rest as dropped. Called by the dispatcher only."""
        if self._abandoned:
            return  # close() has counted this worker for the last time
        depth = self.depth()
        room = self.queue_size - depth
        accepted = events if len(events) <= room else events[: max(room, 0)]
        if depth > PACK_AFTER and len(accepted) > 1:
            try:
                packed = Packed(accepted)
            except ValueError:  # a value marshal cannot hold (only from custom sources)
                self.queue.extend(accepted)
            else:
                self._packed_in += packed.count
                self._chunks_in += 1
                self.queue.append(packed)
        else:
            self.queue.extend(accepted)
        self.emitted += len(accepted)
        self.dropped += len(events) - len(accepted)
        if len(self.queue) >= self.batch_size:
            self._wake.set()

    def depth(self) -> int:
        """Events (and flush markers) queued, packed ones counted one by one."""
        chunks = self._chunks_in - self._chunks_out
        return len(self.queue) - chunks + self._packed_in - self._packed_out

    def offer_marker(self, marker: FlushMarker) -> None:
        self.queue.append(marker)
        self._wake.set()

    # -- worker side -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._abandoned:
            self._wake.wait(self.batch_interval)
            self._wake.clear()
            if self.spool is not None and not self._closing:
                with swallow_internal_errors(f"replaying the spool of sink {self.name!r}"):
                    self.spool.claim()
                    self._replay()
            while self.queue and not self._abandoned:
                with swallow_internal_errors(f"writing a batch to sink {self.name!r}"):
                    self._write_next_batch()  # a bug here must not stop the worker for good
            if self._closing and not self.queue:
                return

    def _replay(self) -> None:
        """Write the spool's records, oldest first, while the sink takes them (not before the
        backoff after a failure has passed)."""
        spool = self.spool
        while spool is not None and spool.pending and not self._abandoned:
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
        with self._lock:
            self.last_error = describe_failure(error)
            self.last_error_ns = time.time_ns()
        self._down_until = time.monotonic() + delay

    def _to_spool(self, part: Sequence[Any]) -> bool:
        """Spool a part not yet counted; False (nothing counted) without a spool or room."""
        spool = self.spool
        if spool is None:
            return False
        with self._lock:
            if self._abandoned:
                return True
        if not spool.append(make_safe(list(part))):
            return False
        return self._settle(part, spooled=len(part))

    def _write_next_batch(self) -> None:
        batch: list[Event] = []
        marker: FlushMarker | None = None
        queue = self.queue
        with self._lock:
            if self._abandoned:
                return
            while queue and len(batch) < self.batch_size:
                item = queue.popleft()
                if type(item) is Packed:
                    unpacked = item.unpack()
                    queue.extendleft(reversed(unpacked))
                    self._chunks_out += 1
                    self._packed_out += item.count
                    continue
                if type(item) is FlushMarker:
                    marker = item
                    break
                batch.append(item)
            if batch:
                self._unsettled.append(batch)
        if batch:
            spool = self.spool
            if spool is not None and spool.pending and not self._replay_first():
                # the sink is down, or older batches wait on disk: after them, in order
                if not self._to_spool(batch):
                    self._settle(batch, failed=len(batch))
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
            if not self._replace_unsettled(batch, [safe]):
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
            if not self._replace_unsettled(part, halves):
                return
            refused: list[list[Any]] = []
            for half in halves:
                half_error = self._write_part(half)
                if half_error is not None:
                    error = half_error
                    refused.append(half)
                if self._abandoned:
                    return
            parts.extend(reversed(refused))  # the earlier half is split first

    def _write_part(self, batch: list[Any]) -> BaseException | None:
        """Write with retries of transient errors; count the outcome. Returns the error when
        the destination refused the batch's data (the caller splits it), None otherwise."""
        attempt = 0
        while True:
            if self._abandoned:
                return None
            try:
                self.sink.write(batch)
            except Exception as exc:
                attempt += 1
                reason = describe_failure(exc)
                data_error = isinstance(exc, InvalidData) or (
                    not isinstance(exc, PermanentWriteError) and is_data_error(exc)
                )
                with self._lock:
                    if self._abandoned:
                        return None
                    self.last_error = reason
                    self.last_error_ns = time.time_ns()
                if data_error:
                    rejected = getattr(exc, "rejected", None)
                    if isinstance(rejected, int) and 0 <= rejected <= len(batch):
                        self._settle(batch, written=len(batch) - rejected, invalid=rejected)
                        self.last_invalid = reason
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
                    if self._settle(batch, written=len(batch) - refused, failed=refused):
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
                with self._lock:
                    if self._abandoned:
                        return None
                    self.retried += 1
                self._interrupt.wait(delay)  # close() cuts a long backoff short
            else:
                if not self._settle(batch, written=len(batch)):
                    self._written_after_close()
                return None

    def _written_after_close(self) -> None:
        """A write in flight when close() gave up came back written: cancel its spooled copy,
        then release the spool (close() left it open for this)."""
        spool, record = self.spool, self._in_flight_record
        if spool is not None and record is not None:
            self._in_flight_record = None
            with swallow_internal_errors(f"cancelling a spooled batch of sink {self.name!r}"):
                spool.done(record, replayed=False)
        if spool is not None:
            with swallow_internal_errors(f"closing the spool of sink {self.name!r}"):
                spool.close()

    def _settle(
        self,
        part: Sequence[Any],
        *,
        written: int = 0,
        failed: int = 0,
        invalid: int = 0,
        spooled: int = 0,
    ) -> bool:
        """Count a part's outcome unless close() already counted it; False when it had."""
        with self._lock:
            if self._abandoned:
                return False
            self.written += written
            self.failed += failed
            self.invalid += invalid
            self.spooled += spooled
            unsettled = self._unsettled
            for index in range(len(unsettled)):
                if unsettled[index] is part:
                    del unsettled[index]
                    break
            return True

    def _replace_unsettled(self, part: Sequence[Any], parts: list[list[Any]]) -> bool:
        with self._lock:
            if self._abandoned:
                return False
            unsettled = self._unsettled
            for index in range(len(unsettled)):
                if unsettled[index] is part:
                    unsettled[index : index + 1] = parts
                    break
            return True

    def _count_invalid(self, part: list[Any], error: BaseException) -> None:
        reason = describe_failure(error)
        if self._settle(part, invalid=len(part)):
            self.last_invalid = reason
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
        return self._abandoned

    def abandon(self) -> int:
        """Close gave up on this worker: count what is queued and in flight as dropped, once.

        After this the worker thread, whenever its write comes back, counts nothing and starts
        no other write. Returns how many events were counted.
        """
        with self._lock:
            if self._abandoned:
                return 0
            self._abandoned = True
            markers = [item for item in self.queue if type(item) is FlushMarker]
            in_flight: list[Any] = []
            for part in self._unsettled:
                in_flight.extend(part)
            queued: list[Any] = []
            for item in self.queue:
                if type(item) is Packed:
                    queued.extend(item.unpack())
                elif type(item) is not FlushMarker:
                    queued.append(item)
            left = len(in_flight) + len(queued)
            self.queue.clear()
            self._chunks_out, self._packed_out = self._chunks_in, self._packed_in
            self._unsettled = []
            spool = self.spool
            # With a spool, what was left goes to disk for the next process. The batch in
            # flight is a record of its own, cancelled if its write comes back written while
            # this process lives (see _write_part): it is replayed only if it never did.
            self._in_flight_record = None
            if spool is not None and in_flight:
                self._in_flight_record = spool.add(make_safe(in_flight))
                if self._in_flight_record is None:
                    self.dropped += len(in_flight)
                else:
                    self.spooled += len(in_flight)
            else:
                self.dropped += len(in_flight)
            if spool is not None and spool.append(make_safe(queued)):
                self.spooled += len(queued)
            else:
                self.dropped += len(queued)
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
        return {
            "emitted": self.emitted,
            "written": self.written,
            "retried": self.retried,
            "dropped": self.dropped,
            "failed": self.failed,
            "invalid": self.invalid,
            "spooled": self.spooled,
            "queue_depth": self.depth(),  # a pending flush marker may count as one
            "last_error": self.last_error,
            "last_error_ns": self.last_error_ns,
            "last_invalid": self.last_invalid,
            "spool": None if self.spool is None else self.spool.stats(),
        }
