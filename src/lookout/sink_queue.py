"""A sink's queue and what it carries, and how its failed writes are retried: the retry
policy, the flush marker that travels behind the events it waits for, packed chunks of
events, and the queue of them the dispatcher puts to and the sink's worker takes from."""

from __future__ import annotations

import marshal
import random
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lookout.events import Event

#: Longest wait a destination's ``Retry-After`` can impose before the next attempt.
MAX_RETRY_AFTER_S = 600.0


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


class FlushMarker:
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


class Packed:
    """Queued events packed into one bytes object, which the garbage collector never walks.

    An Event is a tuple holding dicts, so every full collection of the host walks every queued
    one: 100,000 events behind a dead sink made collections of 82 to 362 ms in the host's own
    calls. Past :data:`PACK_AFTER` queued events, the dispatcher packs what it hands on
    (marshal, about a microsecond an event) and the worker unpacks a chunk at a time.
    """

    __slots__ = ("count", "data")

    def __init__(self, items: Sequence[Event]) -> None:
        self.count = len(items)
        # plain tuples for marshal; an object shared by many events is written once
        self.data = marshal.dumps([tuple(item) for item in items])

    def unpack(self) -> list[Event]:
        return list(map(Event._make, marshal.loads(self.data)))


#: A sink queue deeper than this (in events) takes new events packed (see Packed).
PACK_AFTER = 2000


class SinkQueue:
    """A sink's queue: events, flush markers and, past :data:`PACK_AFTER` events, packed
    chunks. The dispatcher puts, the sink's worker takes (and close() drains, both under the
    worker's ledger lock); each counter has one writer, so the depth in events needs no lock.
    """

    __slots__ = ("_chunks_in", "_chunks_out", "_items", "_packed_in", "_packed_out")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._packed_in = self._packed_out = self._chunks_in = self._chunks_out = 0

    def __len__(self) -> int:
        """Items queued, a packed chunk as one."""
        return len(self._items)

    def depth(self) -> int:
        """Events (and flush markers) queued, packed ones counted one by one."""
        chunks = self._chunks_in - self._chunks_out
        return len(self._items) - chunks + self._packed_in - self._packed_out

    def put(self, events: Sequence[Event]) -> None:
        """Queue ``events``: packed into one chunk when the queue is already deep."""
        if len(events) > 1 and self.depth() > PACK_AFTER:
            try:
                packed = Packed(events)
            except ValueError:  # a value marshal cannot hold (only from custom sources)
                pass
            else:
                self._packed_in += packed.count
                self._chunks_in += 1
                self._items.append(packed)
                return
        self._items.extend(events)

    def put_marker(self, marker: FlushMarker) -> None:
        self._items.append(marker)

    def take(self, most: int) -> tuple[list[Event], FlushMarker | None]:
        """Up to ``most`` events from the front; stops at a flush marker, which it returns."""
        batch: list[Event] = []
        items = self._items
        while items and len(batch) < most:
            item = items.popleft()
            if type(item) is Packed:
                items.extendleft(reversed(item.unpack()))
                self._chunks_out += 1
                self._packed_out += item.count
            elif type(item) is FlushMarker:
                return batch, item
            else:
                batch.append(item)
        return batch, None

    def drain(self) -> tuple[list[Event], list[FlushMarker]]:
        """Empty the queue: the events it held, and its flush markers."""
        events: list[Event] = []
        markers: list[FlushMarker] = []
        for item in self._items:
            if type(item) is Packed:
                events.extend(item.unpack())
            elif type(item) is FlushMarker:
                markers.append(item)
            else:
                events.append(item)
        self._items.clear()
        self._chunks_out, self._packed_out = self._chunks_in, self._packed_in
        return events, markers


def describe_failure(error: BaseException) -> str:
    """One line about a failed write: type and first line of the message, bounded.

    Database errors carry the whole statement and its parameters on later lines; those stay out
    of counters and logs.
    """
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:500]
