"""Helpers for testing code that uses Lookout: see exactly which events it produced.

from lookout.testing import capture_events

with capture_events() as events:
    charge(order)
assert events[0].name.endswith("charge")
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from lookout.core import Lookout
from lookout.events import Event
from lookout.sinks.base import BaseSink


class InMemorySink(BaseSink):
    """Keeps every event written to it, in order, in :attr:`events`."""

    name = "memory"

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.batches = 0
        self._lock = threading.Lock()

    def write(self, batch: Sequence[Event]) -> None:
        with self._lock:
            self.events.extend(batch)
            self.batches += 1

    def check(self) -> str:
        return f"in memory, {len(self.events)} events"


class CapturedEvents(list[Event]):
    """The events captured so far; refreshed by :meth:`refresh` and when the block ends."""

    def __init__(self, lookout: Lookout, sink: InMemorySink) -> None:
        super().__init__()
        self.lookout = lookout
        self._sink = sink

    def refresh(self, timeout: float = 5.0) -> CapturedEvents:
        self.lookout.flush(timeout)
        self[:] = self._sink.events
        return self


@contextmanager
def capture_events(**options: Any) -> Iterator[CapturedEvents]:
    """A Lookout instance that records into memory only, for the duration of the block.

    Decorate with ``events.lookout.monitor`` inside the block, or emit to ``events.lookout``.
    To capture what code decorated with the module-level ``lookout.monitor`` records, use
    ``lookout.configure(store=None, sinks=[InMemorySink()])`` instead.

    Args:
        **options: settings for the instance (``store`` is always None).
    """
    sink = InMemorySink()
    options.setdefault("batch_interval", 0.01)
    instance = Lookout(store=None, sinks=[sink], **options)
    captured = CapturedEvents(instance, sink)
    try:
        yield captured
        captured.refresh()
    finally:
        instance.close()
