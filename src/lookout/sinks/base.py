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


class InvalidData(PermanentWriteError):
    """The destination refused the batch for the data in it (a value it cannot hold, a body
    too large): the Recorder splits the batch to find the events at fault, counts those
    ``invalid`` and writes the others."""


class RetryLater(Exception):
    """A transient refusal that says when to come back (HTTP 429/503 with ``Retry-After``).

    Args:
        retry_after: seconds to wait before the next attempt, if the destination said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: Exception classes (by name, anywhere in the class's MRO or its ``orig``/cause chain) that
#: mean "this data", not "this moment": database drivers' DataError and IntegrityError
#: (PostgreSQL's NUL refusal, an out-of-range integer), encoding errors of a lone surrogate,
#: BSON's refusals, values a driver cannot bind. Named rather than imported so that this module
#: needs no driver.
DATA_ERROR_NAMES = frozenset(
    {
        "InvalidData",
        "DataError",
        "IntegrityError",
        "UnicodeError",
        "OverflowError",
        "InvalidDocument",
        "InvalidStringData",
        "DocumentTooLarge",
        "InvalidBSON",
        "NotSupportedError",
        "ProgrammingError",
        "InterfaceError",
    }
)
_TRANSIENT_NAMES = frozenset({"OperationalError", "ConnectionError", "TimeoutError"})
#: MySQL/MariaDB errors about a value (raised as OperationalError by PyMySQL): incorrect
#: string value, out of range, data too long, incorrect value, data truncated, invalid
#: character string.
MYSQL_DATA_CODES = frozenset({1264, 1265, 1292, 1300, 1366, 1406})
_MYSQL_ERROR_NAMES = frozenset({"OperationalError", "InternalError", "DataError"})


def is_data_error(error: BaseException) -> bool:
    """Whether ``error`` says the batch's data was refused (split it), not that the destination
    is unavailable now (retry it, spool it).

    ``InterfaceError`` and ``ProgrammingError`` count as data only when their message says a
    value could not be bound (sqlite3 raises them for unsupported parameter types); the rest of
    them are bugs or lost connections and keep the normal retries.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        code = current.args[0] if current.args else None
        if type(code) is int and code in MYSQL_DATA_CODES and names & _MYSQL_ERROR_NAMES:
            return True
        if names & _TRANSIENT_NAMES and not names & {"DataError", "IntegrityError"}:
            return False
        found = names & DATA_ERROR_NAMES
        if found - {"InterfaceError", "ProgrammingError"}:
            return True
        if found and "bind" in str(current).lower():
            return True
        nested = getattr(current, "orig", None)
        current = nested if isinstance(nested, BaseException) else current.__cause__
    return False


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
