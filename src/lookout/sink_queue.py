"""What a sink's queue carries and how its failed writes are retried: the retry policy, the
flush marker that travels behind the events it waits for, and packed chunks of events."""

from __future__ import annotations

import marshal
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

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


def describe_failure(error: BaseException) -> str:
    """One line about a failed write: type and first line of the message, bounded.

    Database errors carry the whole statement and its parameters on later lines; those stay out
    of counters and logs.
    """
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:500]
