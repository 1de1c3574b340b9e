"""The Recorder: the road every event travels from the host's threads to the sinks.

    host thread --submit()--> ingress deque --dispatcher thread--> one deque per sink
                                                               --> one worker thread per sink

The host's side (:meth:`Recorder.submit`) is a length check and a ``deque.append``: no I/O, no
lock, no allocation beyond the small tuple the caller made. When the ingress is full the item is
counted as dropped and the caller goes on. The dispatcher turns captured tuples into
:class:`~lookout.events.Event` objects (clock conversion, redaction, size bounds) and hands each
event to every sink's own bounded queue, so a slow or dead sink only ever fills its own queue.
Each sink worker batches by size and by time and retries failed writes with exponential backoff
and jitter; what cannot be written is counted, never lost silently.
"""

from __future__ import annotations

import logging
import marshal
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lookout._internal import swallow_internal_errors
from lookout.coerce import DEFAULT_LIMITS, Limits, bound_fields, coerce_fields, make_safe
from lookout.events import Event
from lookout.redact import Redactor
from lookout.sinks.base import InvalidData, PermanentWriteError, Sink, is_data_error
from lookout.spool import Spool

logger = logging.getLogger("lookout.recorder")

#: How often the dispatcher looks at the ingress when nobody wakes it (flush() does). Every
#: wake-up costs the host's threads a GIL hand-over: at 20 ms the Flask benchmark lost about
#: 10 us per request more than at 100 ms. Events still reach a sink within this plus the
#: batch interval.
DISPATCH_POLL_SECONDS = 0.1
#: Longest wait a destination's ``Retry-After`` can impose before the next attempt.
MAX_RETRY_AFTER_S = 600.0
#: Most static mappings whose cleaned form is remembered (see Recorder.mark_static).
STATIC_MAPPINGS_LIMIT = 100_000
#: Events handed to the sink queues at a time by the dispatcher.
DISPATCH_CHUNK = 2000


class CaptureSource(Protocol):
    """What a captured tuple's first item must be: something that can build the Event later.

    Integrations put ``(source, *data)`` tuples on the ingress so the hot path allocates only a
    tuple; ``source.build_event(item, context)`` runs later in the dispatcher thread.

    A source whose class sets ``sanitizes_own_events = True`` promises that its events' tags and
    fields are already redacted and bounded: it passes what it cannot vouch for through
    ``context.sanitize``, and the dispatcher skips its own pass (2.3 of the 3.4 µs it took to
    build a Flask request's event).

    A source may also offer ``portable(item, context) -> tuple | None``: the item as plain
    data (str, int, float, None) whose first value names its kind in
    :data:`lookout.portable.PORTABLE_KINDS`. When every sink takes portable items
    (``accepts_portable = True``: the store, in this process or in its writer process), the
    dispatcher hands those on instead of building Events, and the store's writer stores them
    without one.
    """

    def build_event(self, item: tuple[Any, ...], context: BuildContext) -> Event | None: ...


@dataclass(slots=True)
class BuildContext:
    """Per-drain facts the dispatcher gives to :meth:`CaptureSource.build_event`."""

    #: ``time.time_ns() - time.perf_counter_ns()`` at the start of this drain: adds to a
    #: ``perf_counter_ns`` reading to give epoch nanoseconds.
    clock_offset_ns: int
    pid: int
    app_version: str | None
    limits: Limits
    #: redacts and bounds a mapping of tags or coerced fields (what the dispatcher does)
    sanitize: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    #: whether the redactor replaces the value of a key of this name
    is_secret: Callable[[str], bool]
    #: a source's decisions that hold for one drain (the settings cannot change within it)
    memo: dict[Any, Any]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed writes are retried: ``max_retries`` more attempts after the first one.

    The n-th retry waits ``min(max_backoff, backoff * 2**(n-1))`` seconds scaled by a random
    factor in [0.5, 1.0] (jitter), so many processes retrying the same store do not stampede.
    """

    max_retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0

    def delay(self, retry_number: int) -> float:
        base = min(self.max_backoff, self.backoff * 2.0 ** (retry_number - 1))
        return base * random.uniform(0.5, 1.0)


class _FlushMarker:
    """Travels through every queue behind the events it must see written."""

    __slots__ = ("_done", "_lock", "_pending")

    def __init__(self, workers: int) -> None:
        self._pending = workers
        self._lock = threading.Lock()
        self._done = threading.Event()
        if workers == 0:
            self._done.set()

    def reached(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending <= 0:
                self._done.set()

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)


class _Packed:
    """Queued events packed into one bytes object, which the garbage collector never walks.

    An Event is a tuple holding dicts, so every full collection of the host walks every queued
    one: 100,000 events behind a dead sink made collections of 82 to 362 ms in the host's own
    calls. Past :data:`PACK_AFTER` queued events, the dispatcher packs what it hands on
    (marshal, about a microsecond an event) and the worker unpacks a chunk at a time.
    """

    __slots__ = ("count", "data")

    def __init__(self, items: Sequence[Any]) -> None:
        self.count = len(items)
        self.data = marshal.dumps(
            [(True, tuple(item)) if type(item) is Event else (False, item) for item in items]
        )

    def unpack(self) -> list[Any]:
        return [
            Event._make(value) if is_event else value
            for is_event, value in marshal.loads(self.data)
        ]


#: A sink queue deeper than this (in events) takes new events packed (see _Packed).
PACK_AFTER = 2000


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
                packed = _Packed(accepted)
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

    def offer_marker(self, marker: _FlushMarker) -> None:
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
        marker: _FlushMarker | None = None
        queue = self.queue
        with self._lock:
            if self._abandoned:
                return
            while queue and len(batch) < self.batch_size:
                item = queue.popleft()
                if type(item) is _Packed:
                    unpacked = item.unpack()
                    queue.extendleft(reversed(unpacked))
                    self._chunks_out += 1
                    self._packed_out += item.count
                    continue
                if type(item) is _FlushMarker:
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
            markers = [item for item in self.queue if type(item) is _FlushMarker]
            in_flight: list[Any] = []
            for part in self._unsettled:
                in_flight.extend(part)
            queued: list[Any] = []
            for item in self.queue:
                if type(item) is _Packed:
                    queued.extend(item.unpack())
                elif type(item) is not _FlushMarker:
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


class Recorder:
    """Owns the ingress queue, the dispatcher and one worker per sink.

    Args:
        sinks: where events go; each gets its own queue and thread.
        queue_size: bound of the ingress queue (captured, not yet dispatched).
        sink_queue_size: bound of each sink's queue.
        batch_size: most events written to a sink at once.
        batch_interval: longest a sink's queued events wait before they are written, seconds.
        retry: how failed writes are retried.
        app_version: stamped on every event.
        limits: size bounds for event fields.
        redactor: replaces secrets in tags and fields before any sink sees them.
    """

    def __init__(
        self,
        sinks: Sequence[Sink] = (),
        *,
        queue_size: int = 100_000,
        sink_queue_size: int = 100_000,
        batch_size: int = 500,
        batch_interval: float = 1.0,
        retry: RetryPolicy | None = None,
        app_version: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
        redactor: Redactor | None = None,
    ) -> None:
        self.queue_size = queue_size
        self.app_version = app_version
        self.limits = limits
        self.redactor = redactor or Redactor()
        self._static_mappings: dict[int, list[Any]] = {}
        #: The hot path's queue. Never replaced (closures in decorators hold it), only cleared.
        self.ingress: deque[Any] = deque()
        self._worker_options: dict[str, Any] = {
            "queue_size": sink_queue_size,
            "batch_size": batch_size,
            "batch_interval": batch_interval,
            "retry": retry or RetryPolicy(),
        }
        self.workers = [SinkWorker(sink, **self._worker_options) for sink in sinks]
        _give_unique_names(self.workers)
        self._forward_portable = _all_accept_portable(self.workers)
        self._init_state()
        for worker in self.workers:
            worker.start()
        self._dispatcher.start()

    def _init_state(self) -> None:
        self.ingress.clear()
        self.dropped = 0
        self.processed = 0
        self.invalid = 0
        self.closed = False
        self._drop_lock = threading.Lock()
        self._workers_lock = threading.Lock()
        self._lifecycle_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="lookout-dispatcher", daemon=True
        )

    # -- hot path ----------------------------------------------------------------------------
    def submit(self, item: Any) -> bool:
        """Queue a captured item without blocking; False (and a counted drop) when full."""
        ingress = self.ingress
        if len(ingress) < self.queue_size:  # soft bound: racing appends may pass it by a few
            ingress.append(item)
            return True
        self.count_drop()
        return False

    def emit(self, event: Event) -> bool:
        """Queue a ready-made Event (its fields are coerced and redacted in the dispatcher)."""
        return self.submit(event)

    def count_drop(self) -> None:
        """Count an item the ingress had no room for (the only locked step a caller can hit)."""
        with self._drop_lock:
            self.dropped += 1

    # -- dispatcher ----------------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        while True:
            self._wake.wait(DISPATCH_POLL_SECONDS)
            self._wake.clear()
            with swallow_internal_errors("dispatching events"):
                self._drain()
            if self._closing and not self.ingress:
                return

    def _drain(self) -> None:
        ingress = self.ingress
        if not ingress:
            return
        context = BuildContext(
            clock_offset_ns=time.time_ns() - time.perf_counter_ns(),
            pid=os.getpid(),
            app_version=self.app_version,
            limits=self.limits,
            sanitize=self._clean_coerced,
            is_secret=self.redactor.is_secret,
            memo={},
        )
        build = self._build
        events: list[Any] = []
        append = events.append
        while ingress:
            item = ingress.popleft()
            if type(item) is _FlushMarker:
                self._deliver(events)
                events = []
                append = events.append
                with self._workers_lock:
                    for worker in self.workers:
                        worker.offer_marker(item)
                continue
            event = build(item, context)
            if event is not None:
                append(event)
                if len(events) >= DISPATCH_CHUNK:
                    self._deliver(events)
                    events = []
                    append = events.append
        self._deliver(events)

    def _build(self, item: Any, context: BuildContext) -> Event | tuple[Any, ...] | None:
        self.processed += 1
        try:
            if type(item) is Event:
                return self._sanitize(item, context, coerce_values=True)
            source: CaptureSource = item[0]
            if self._forward_portable:
                portable = getattr(source, "portable", None)
                if portable is not None:
                    plain: tuple[Any, ...] | None = portable(item, context)
                    if plain is not None:
                        return plain
            built = source.build_event(item, context)
            if built is None or getattr(source, "sanitizes_own_events", False):
                return built
            return self._sanitize(built, context, coerce_values=False)
        except Exception:
            self.invalid += 1
            with swallow_internal_errors("building an event"):
                raise
            return None

    def _sanitize(self, event: Event, context: BuildContext, *, coerce_values: bool) -> Event:
        """Redact secrets and bound sizes; stamp pid and app version when missing."""
        fields, tags = event.fields, event.tags
        changes: dict[str, Any] = {}
        if fields:
            clean_fields = self._clean(fields, coerce_values)
            if clean_fields is not fields:
                changes["fields"] = clean_fields
        if tags:
            clean_tags = self._clean(tags, False)
            if clean_tags is not tags:
                changes["tags"] = clean_tags
        if not event.pid:
            changes["pid"] = context.pid
        if event.app_version is None and context.app_version is not None:
            changes["app_version"] = context.app_version
        return event._replace(**changes) if changes else event

    def _clean(self, mapping: Any, coerce_values: bool) -> Any:
        """The redacted, bounded form of ``mapping``; computed once for static mappings."""
        entry = self._static_mappings.get(id(mapping))
        if entry is not None and entry[1] is not None:
            return entry[1]
        cleaned: Any = coerce_fields(mapping, self.limits) if coerce_values else mapping
        cleaned = bound_fields(self.redactor.redact(cleaned), self.limits.max_event_bytes)
        cleaned = make_safe(cleaned)  # no lone surrogate or NUL reaches a sink (here, not
        # in the host's thread, where per-call extras are coerced)
        if cleaned is not mapping and cleaned == mapping:
            cleaned = mapping  # nothing changed: keep the original and skip the _replace
        if entry is not None:
            entry[1] = cleaned
        return cleaned

    def _clean_coerced(self, mapping: Mapping[str, Any]) -> Mapping[str, Any]:
        cleaned: Mapping[str, Any] = self._clean(mapping, False)
        return cleaned

    def mark_static(self, mapping: Any) -> Any:
        """Declare a mapping that will come back on many events unchanged (static tags).

        Its redacted form is then computed once instead of per event. The caller must not
        mutate it afterwards; the Recorder keeps a reference, so its id stays unique.
        """
        if mapping and len(self._static_mappings) < STATIC_MAPPINGS_LIMIT:
            self._static_mappings[id(mapping)] = [mapping, None]
        return mapping

    def _deliver(self, events: list[Any]) -> None:
        if events:
            with self._workers_lock:
                for worker in self.workers:
                    worker.offer(events)

    def replace_sinks(
        self,
        sinks: Sequence[Sink],
        *,
        app_version: str | None,
        limits: Limits,
        redactor: Redactor,
        timeout: float,  # no default: mypyc cannot compile a keyword default before **kwargs
        **worker_options: Any,
    ) -> None:
        """Swap in new sinks and settings without replacing the ingress the decorators hold.

        What was already handed to the old sinks is written by them (within ``timeout``) and
        the old sinks are closed.
        """
        self.flush(timeout)
        self._worker_options.update(worker_options)
        new_workers = [SinkWorker(sink, **self._worker_options) for sink in sinks]
        _give_unique_names(new_workers)
        with self._workers_lock:
            old_workers, self.workers = self.workers, new_workers
            self._forward_portable = _all_accept_portable(new_workers)
            self.app_version, self.limits, self.redactor = app_version, limits, redactor
            for entry in self._static_mappings.values():
                entry[1] = None  # cleaned under the old rules: clean again on next use
        for worker in new_workers:
            worker.start()
        self._close_workers(old_workers, time.monotonic() + timeout, timeout)

    # -- flush, close, fork ------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted before this call is written (or failed/dropped).

        Returns:
            True when every sink got there within ``timeout`` seconds.
        """
        if self.closed:
            return True
        marker = _FlushMarker(len(self.workers))
        self.ingress.append(marker)  # markers ignore the bound: a flush must never be dropped
        self._wake.set()
        return marker.wait(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued, stop the threads and close the sinks, within ``timeout`` seconds.

        Returns:
            True when everything was written in time. Events still queued at the deadline are
            counted as dropped and a warning says how many.
        """
        with self._lifecycle_lock:
            if self.closed:
                return True
            self.closed = True
            self.queue_size = 0  # from now on every submit counts as a drop
        deadline = time.monotonic() + timeout
        self._closing = True
        self._wake.set()
        self._dispatcher.join(max(0.0, deadline - time.monotonic()))
        if self._dispatcher.is_alive():
            logger.warning("lookout: the dispatcher did not stop within %.1fs", timeout)
        return (
            self._close_workers(self.workers, deadline, timeout) and not self._dispatcher.is_alive()
        )

    def _close_workers(self, workers: list[SinkWorker], deadline: float, timeout: float) -> bool:
        clean = True
        for worker in workers:
            worker.begin_close(deadline)
        for worker in workers:
            finished = worker.join(deadline)
            if not finished or worker.queue:
                clean = False
                left = worker.abandon()
                logger.warning(
                    "lookout: sink %r did not finish within %.1fs; %d events queued or in "
                    "flight counted as dropped",
                    worker.name,
                    timeout,
                    left,
                )
                continue
            with swallow_internal_errors(f"closing sink {worker.name!r}"):
                worker.sink.close()
        for worker in workers:
            if worker.spool is not None and not worker.abandoned:
                with swallow_internal_errors(f"closing the spool of sink {worker.name!r}"):
                    worker.spool.close()
        return clean

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's queues and counters and start fresh threads."""
        if self.closed:
            return
        self._init_state()
        for worker in self.workers:
            worker.reset_after_fork()
        self._dispatcher.start()

    def stats(self) -> dict[str, Any]:
        """Counters as a plain dict: ingress totals and, per sink, what happened to its events."""
        return {
            "queue_depth": len(self.ingress),
            "queue_size": self.queue_size,
            "processed": self.processed,
            "dropped": self.dropped,
            "invalid": self.invalid,
            "sinks": {worker.name: worker.stats() for worker in self.workers},
        }


def describe_failure(error: BaseException) -> str:
    """One line about a failed write: type and first line of the message, bounded.

    Database errors carry the whole statement and its parameters on later lines; those stay out
    of counters and logs.
    """
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:500]


def _all_accept_portable(workers: Sequence[SinkWorker]) -> bool:
    return bool(workers) and all(
        getattr(worker.sink, "accepts_portable", False) for worker in workers
    )


def _give_unique_names(workers: list[SinkWorker]) -> None:
    """Two sinks of one type (say two HTTP endpoints) get ``http`` and ``http-2`` in stats."""
    seen: dict[str, int] = {}
    for worker in workers:
        count = seen.get(worker.name, 0) + 1
        seen[worker.name] = count
        if count > 1:
            worker.name = f"{worker.name}-{count}"
