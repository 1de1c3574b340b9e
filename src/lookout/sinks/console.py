"""The logging sink: one JSON line per event through the standard ``logging`` module.

For teams that already ship logs (to Loki, Elasticsearch, CloudWatch Logs...): attach the
handler they use to the ``lookout.events`` logger (or the name given) and every event arrives
as one self-contained JSON object.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lookout.events import Event, event_document
from lookout.jsontext import to_json
from lookout.sinks.base import BaseSink


class LoggingSink(BaseSink):
    """Logs each event as one JSON line.

    Args:
        logger: the logger's name (default ``lookout.events``).
        level: the level events are logged at (default INFO); errors can be raised a level
            with ``error_level``.
        error_level: the level of events whose outcome is ``error`` (default WARNING).
    """

    name = "log"

    def __init__(
        self,
        logger: str = "lookout.events",
        *,
        level: int = logging.INFO,
        error_level: int = logging.WARNING,
    ) -> None:
        self.logger = logging.getLogger(logger)
        self.level = level
        self.error_level = error_level

    def write(self, batch: Sequence[Event]) -> None:
        log = self.logger.log
        enabled = self.logger.isEnabledFor
        for event in batch:
            level = self.error_level if event.outcome == "error" else self.level
            if enabled(level):
                log(level, "%s", to_json(event_document(event)))

    def check(self) -> str:
        handlers = bool(self.logger.handlers) or self.logger.propagate
        where = "its handlers" if handlers else "no handler"
        return f"logger {self.logger.name!r} at {logging.getLevelName(self.level)}, to {where}"
