"""A sink's queue on its own: events packed past PACK_AFTER still counted one by one, taken in
order up to a flush marker, drained whole; and its worker's ledger: every event counted once,
nothing after close() gave up."""

from __future__ import annotations

from lookout.events import Event, make_event
from lookout.sink_ledger import SinkLedger
from lookout.sink_queue import PACK_AFTER, FlushMarker, SinkQueue


def _events(count: int, first: int = 0) -> list[Event]:
    return [make_event("call", f"job-{n}", duration_ns=n) for n in range(first, first + count)]


def test_a_deep_queue_packs_and_still_counts_and_orders_every_event() -> None:
    queue = SinkQueue()
    queue.put(_events(PACK_AFTER + 1))
    queue.put(_events(500, PACK_AFTER + 1))  # one packed chunk
    assert len(queue) == PACK_AFTER + 2 and queue.depth() == PACK_AFTER + 501
    marker = FlushMarker(1)
    queue.put_marker(marker)
    taken: list[Event] = []
    while True:
        batch, reached = queue.take(300)
        taken.extend(batch)
        if reached is not None:
            break
    assert reached is marker and len(queue) == 0 and queue.depth() == 0
    assert [event.duration_ns for event in taken] == list(range(PACK_AFTER + 501))


def test_drain_empties_the_queue_of_events_and_markers() -> None:
    queue = SinkQueue()
    queue.put(_events(PACK_AFTER + 1))
    queue.put(_events(10, PACK_AFTER + 1))
    queue.put_marker(FlushMarker(1))
    queue.take(5)
    events, markers = queue.drain()
    assert len(events) == PACK_AFTER + 6 and len(markers) == 1
    assert len(queue) == 0 and queue.depth() == 0


def test_the_ledger_counts_each_event_once_and_nothing_after_close_gave_up() -> None:
    ledger = SinkLedger()
    ledger.offered(10, 2)
    first, second = _events(4), _events(6, 4)
    with ledger.lock:
        ledger.in_flight(first)
        ledger.in_flight(second)
    halves = [first[:2], first[2:]]
    assert ledger.split(first, halves)
    assert ledger.settle(halves[0], written=2)
    assert ledger.settle(halves[1], invalid=2, invalid_reason="ValueError: bad")
    # close() gives up with `second` in flight and 3 events still queued
    assert ledger.abandon(lambda: _events(3, 10), spool=None) == 9
    assert ledger.abandon(lambda: _events(3, 10), spool=None) is None
    assert not ledger.settle(second, written=6)  # its write came back late
    assert not ledger.note_retry() and not ledger.note_error("late")
    assert (ledger.emitted, ledger.written, ledger.invalid, ledger.dropped) == (10, 2, 2, 2 + 9)
    assert ledger.last_invalid == "ValueError: bad" and ledger.last_error is None
