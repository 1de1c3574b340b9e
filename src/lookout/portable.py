"""Events from portable items: plain data the store's writer process turns into Events.

An integration whose captured items need nothing of the application's process to become Events
offers them as tuples of plain values whose first value names their builder here (see
``CaptureSource`` in :mod:`lookout.recorder`). The builders are imported on first use, so the
writer process loads an integration (Flask) only when the application sent its items.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from lookout.events import Event

#: kind -> "module:factory"; the factory makes a function from a portable item to its Event.
BUILDERS = {"request": "lookout.flask.request_events:portable_builder"}


class PortableBuilder:
    """Builds Events from portable items, loading each kind's builder once."""

    def __init__(self) -> None:
        self._builders: dict[str, Callable[[tuple[Any, ...]], Event]] = {}

    def build(self, items: Sequence[tuple[Any, ...]]) -> list[Event]:
        builders = self._builders
        events = []
        for item in items:
            build = builders.get(item[0])
            if build is None:
                build = builders[item[0]] = _load(item[0])
            events.append(build(item))
        return events


def _load(kind: str) -> Callable[[tuple[Any, ...]], Event]:
    where = BUILDERS.get(kind)
    if where is None:
        raise ValueError(f"no builder for portable items of kind {kind!r}")
    module, _, factory = where.partition(":")
    make: Callable[[], Callable[[tuple[Any, ...]], Event]] = getattr(
        importlib.import_module(module), factory
    )
    return make()
