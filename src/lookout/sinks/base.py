"""The small interface every destination implements.

The Recorder decides *when* to write (batch size, batch interval, retries); a sink only decides
*where* and *how*. A sink's ``write`` is called from that sink's own worker thread, never from
the host application's threads, so it may block on I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from lookout.events import Event


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
    the Recorder counts its events as failed at once."""


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
