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
import os
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
from lookout.sink_queue import FlushMarker, RetryPolicy, describe_failure
from lookout.sink_worker import SinkWorker
from lookout.sinks.base import Sink

__all__ = ["BuildContext", "CaptureSource", "Recorder", "RetryPolicy", "describe_failure"]

logger = logging.getLogger("lookout.recorder")

#: How often the dispatcher looks at the ingress when nobody wakes it (flush() does). Every
#: wake-up costs the host's threads a GIL hand-over: at 20 ms the Flask benchmark lost about
#: 10 us per request more than at 100 ms. Events still reach a sink within this plus the
#: batch interval.
DISPATCH_POLL_SECONDS = 0.1
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

    Every kind becomes an Event here, and only here: the one record every sink (the store
    included) is given, so there is one road from capture to storage.
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
            if type(item) is FlushMarker:
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

    def _build(self, item: Any, context: BuildContext) -> Event | None:
        self.processed += 1
        try:
            if type(item) is Event:
                return self._sanitize(item, context, coerce_values=True)
            source: CaptureSource = item[0]
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
        marker = FlushMarker(len(self.workers))
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


def _give_unique_names(workers: list[SinkWorker]) -> None:
    """Two sinks of one type (say two HTTP endpoints) get ``http`` and ``http-2`` in stats."""
    seen: dict[str, int] = {}
    for worker in workers:
        count = seen.get(worker.name, 0) + 1
        seen[worker.name] = count
        if count > 1:
            worker.name = f"{worker.name}-{count}"
