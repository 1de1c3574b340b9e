"""Portable items: captured data as plain values, written to the store without an Event.

An integration whose captured items need nothing of the application's process to be stored
offers them as tuples of plain values (str, int, float, None) whose first value names their
kind (see ``CaptureSource`` in :mod:`lookout.recorder`). When every sink is the store (in this
process, or its writer process with ``store_process``), the dispatcher hands those on instead of
building Events, and the store's writer makes each one's row of the events table in one step,
with the kind's :class:`PortableRows`: no Event, and no record in between. The JSON of what
repeats (a method's tags, the fields of a route) is made once, not per item.

Plain tuples also cost the host's garbage collector nothing: a tuple of plain values is
untracked at its first collection, where an Event and its two dicts are walked by every
collection until they are written. Each kind's rows are imported on first use, so the writer
process loads an integration (Flask) only when the application sent its items.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

#: (kind, name) and (host, pid, app version): what the store keeps once and refers to by id.
NameKey = tuple[str, str]
SourceKey = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class RowContext:
    """What a kind's rows need from the store's writer: the ids of the names and sources it
    has stored (the writer adds to these dicts), and what its database binds for NULL."""

    name_ids: dict[NameKey, int]
    source_ids: dict[SourceKey, int]
    null_text: Any
    null_int: Any


class PortableRows(Protocol):
    """Turns one kind's portable items into rows of the events table (its columns' order)."""

    def keys(self, item: tuple[Any, ...]) -> tuple[NameKey, SourceKey]:
        """The name and source the item's row refers to."""
        ...

    def row(self, item: tuple[Any, ...]) -> tuple[Any, ...]:
        """The row; KeyError while its name or source has no id in the context yet."""
        ...


#: kind -> "module:class"; the class is made with a RowContext and is a PortableRows.
PORTABLE_KINDS = {"request": "lookout.flask.request_events:RequestRows"}


class PortableKinds:
    """The PortableRows of each kind a writer has met, each loaded once."""

    def __init__(self, context: RowContext) -> None:
        self.context = context
        #: kind -> its row function, for the writer's loop
        self.row_of: dict[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {}
        self._kinds: dict[str, PortableRows] = {}

    def kind(self, name: str) -> PortableRows:
        rows = self._kinds.get(name)
        if rows is None:
            rows = self._kinds[name] = _load(name)(self.context)
            self.row_of[name] = rows.row
        return rows


def _load(kind: str) -> Callable[[RowContext], PortableRows]:
    where = PORTABLE_KINDS.get(kind)
    if where is None:
        raise ValueError(f"no rows for portable items of kind {kind!r}")
    module, _, name = where.partition(":")
    rows: Callable[[RowContext], PortableRows] = getattr(importlib.import_module(module), name)
    return rows
