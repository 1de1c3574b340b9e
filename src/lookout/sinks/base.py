"""The small interface every destination implements.

The Recorder decides *when* to write (batch size, batch interval, retries); a sink only decides
*where* and *how*. A sink's ``write`` is called from that sink's own worker thread, never from
the host application's threads, so it may block on I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

from lookout.events import Event

T = TypeVar("T")


@runtime_checkable
class Sink(Protocol):
    """A destination for batches of events.

    Attributes:
        name: a short label used in counters, logs and ``lookout check`` (e.g. ``sql``).
    """

    name: str

    def write(self, batch: Sequence[Event]) -> None:
        """Write a batch; raise to have it retried with backoff (then counted as failed)."""

    def close(self) -> None:
        """Release connections; called once, after the last write."""


class PermanentWriteError(Exception):
    """The destination refused the batch for good (say HTTP 400): retrying cannot help, so
    the Recorder counts its events as failed at once.

    Args:
        rejected: how many of the batch's events were refused when the destination wrote the
            others (a partial write); None means the whole batch. The Recorder counts the
            rest as written, so the counters stay exact.
    """

    def __init__(self, message: str, rejected: int | None = None) -> None:
        super().__init__(message)
        self.rejected = rejected


class RetryLater(Exception):
    """A transient refusal that says when to come back (HTTP 429/503 with ``Retry-After``).

    Args:
        retry_after: seconds to wait before the next attempt, if the destination said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BaseSink:
    """Optional base class with the lifecycle hooks the Recorder calls when present."""

    name = "sink"

    def write(self, batch: Sequence[Event]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""

    def after_fork(self) -> None:
        """Called in a forked child before its first write: drop connections the parent owns."""

    def check(self) -> str:
        """Connect and verify the destination is writable; return a one-line description.

        Raises:
            Exception: whatever the destination raised, for ``lookout check`` to report.
        """
        return "no check available"


class BatchMemo(Generic[T]):
    """State that must survive the Recorder's retries of one batch, and only of that batch.

    The Recorder retries a failed write with the very same list object, so a sink can tell a
    retry from a new batch by identity. The memo keeps a reference to the batch (an ``id()``
    alone could be reused by the next batch once the old one is freed).
    """

    def __init__(self, make: Callable[[Sequence[Event]], T]) -> None:
        self._make = make
        self._batch: Sequence[Event] | None = None
        self._state: T | None = None

    def get(self, batch: Sequence[Event]) -> T:
        """The state for ``batch``: the same object on every retry, a fresh one otherwise."""
        if self._batch is not batch or self._state is None:
            self._batch, self._state = batch, self._make(batch)
        return self._state
