"""Portable items: captured data as plain values, written to the store without an Event.

An integration whose captured items need nothing of the application's process to be stored
offers them as tuples of plain values (str, int, float, None) whose first value names their
kind (see ``CaptureSource`` in :mod:`lookout.recorder`). When every sink is the store (in this
process, or its writer process with ``store_process``), the dispatcher hands those on instead of
building Events, and the store's writer turns each into a :data:`StoredRecord`: an Event's
seventeen values in Event order, but with its tags and fields already JSON text, so that the
JSON of what repeats (a method's tags, the fields of a route) is made once, not per event.

Plain tuples also cost the host's garbage collector nothing: a tuple of plain values is
untracked at its first collection, where an Event and its two dicts are walked by every
collection until they are written. The record makers are imported on first use, so the writer
process loads an integration (Flask) only when the application sent its items.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: An Event's values in Event order, with tags and fields as JSON text (or None).
StoredRecord = tuple[Any, ...]
RecordMaker = Callable[[tuple[Any, ...]], StoredRecord]

#: kind -> "module:factory"; the factory returns a function from a portable item to its record.
RECORD_MAKERS = {"request": "lookout.flask.request_events:request_record_maker"}


class PortableRecords:
    """Turns portable items into stored records, loading each kind's maker once."""

    def __init__(self) -> None:
        self._makers: dict[str, RecordMaker] = {}

    def maker(self, kind: str) -> RecordMaker:
        make = self._makers.get(kind)
        if make is None:
            make = self._makers[kind] = _load(kind)
        return make


def _load(kind: str) -> RecordMaker:
    where = RECORD_MAKERS.get(kind)
    if where is None:
        raise ValueError(f"no record maker for portable items of kind {kind!r}")
    module, _, factory = where.partition(":")
    make: Callable[[], RecordMaker] = getattr(importlib.import_module(module), factory)
    return make()
