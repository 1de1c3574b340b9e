"""Where each event a sink's worker was given ended: the counters, kept exact across retries,
split batches, spools and a close() that gives up on the worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from lookout.coerce import make_safe
from lookout.spool import Spool


class SinkLedger:
    """Every event offered ends in exactly one of ``written``, ``failed``, ``invalid`` (the
    destination refused its data), ``dropped`` (no room, or still queued or in flight when
    close() gave up) or, with a spool, ``spooled``.

    The worker thread counts under ``lock``; :meth:`abandon` takes it too, so once close() has
    counted what was left, a write that comes back late counts nothing more (every method
    then answers False). The parts of the batch being written that are not counted yet are
    kept here, for close() to count.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.abandoned = False
        self.emitted = self.written = self.retried = self.dropped = self.failed = 0
        self.invalid = self.spooled = 0
        self.last_error: str | None = None
        self.last_error_ns: int | None = None
        self.last_invalid: str | None = None
        #: the spool record of a batch in flight when close() gave up (see abandon)
        self.in_flight_record: Any = None
        self._unsettled: list[Sequence[Any]] = []

    def offered(self, accepted: int, refused: int) -> None:
        """The dispatcher queued ``accepted`` events and had no room for ``refused``."""
        self.emitted += accepted
        self.dropped += refused

    def in_flight(self, batch: Sequence[Any]) -> None:
        """A batch taken from the queue (with ``lock`` held): not counted until settled."""
        self._unsettled.append(batch)

    def settle(
        self,
        part: Sequence[Any],
        *,
        written: int = 0,
        failed: int = 0,
        invalid: int = 0,
        spooled: int = 0,
        invalid_reason: str | None = None,
    ) -> bool:
        """Count a part's outcome unless close() already counted it; False when it had."""
        with self.lock:
            if self.abandoned:
                return False
            self.written += written
            self.failed += failed
            self.invalid += invalid
            self.spooled += spooled
            if invalid_reason is not None:
                self.last_invalid = invalid_reason
            unsettled = self._unsettled
            for index in range(len(unsettled)):
                if unsettled[index] is part:
                    del unsettled[index]
                    break
            return True

    def split(self, part: Sequence[Any], parts: list[list[Any]]) -> bool:
        """``part`` is written as ``parts`` now (made safe, or halved); False after close()."""
        with self.lock:
            if self.abandoned:
                return False
            unsettled = self._unsettled
            for index in range(len(unsettled)):
                if unsettled[index] is part:
                    unsettled[index : index + 1] = parts
                    break
            return True

    def note_error(self, reason: str) -> bool:
        """A write failed for ``reason``; False (nothing noted) after close()."""
        with self.lock:
            if self.abandoned:
                return False
            self.last_error = reason
            self.last_error_ns = time.time_ns()
            return True

    def note_retry(self) -> bool:
        """A write is tried again; False (no retry) after close()."""
        with self.lock:
            if self.abandoned:
                return False
            self.retried += 1
            return True

    def abandon(self, drain: Callable[[], list[Any]], spool: Spool | None) -> int | None:
        """Close gave up: count what ``drain`` takes from the queue (called with ``lock``
        held, so no batch is taken meanwhile) and what is in flight, once; None if already.

        With a spool, what was left goes to disk for the next process. The batch in flight is
        a record of its own (``in_flight_record``), cancelled if its write comes back written
        while this process lives: it is replayed only if it never did. Returns how many
        events were counted.
        """
        with self.lock:
            if self.abandoned:
                return None
            self.abandoned = True
            queued = drain()
            in_flight: list[Any] = []
            for part in self._unsettled:
                in_flight.extend(part)
            self._unsettled = []
            self.in_flight_record = None
            if spool is not None and in_flight:
                self.in_flight_record = spool.add(make_safe(in_flight))
                if self.in_flight_record is None:
                    self.dropped += len(in_flight)
                else:
                    self.spooled += len(in_flight)
            else:
                self.dropped += len(in_flight)
            if spool is not None and spool.append(make_safe(queued)):
                self.spooled += len(queued)
            else:
                self.dropped += len(queued)
            return len(in_flight) + len(queued)
