"""What the parts that serve a Lookout need of it, as protocols.

The alert engine, script supervision and the process hooks (exit, SIGTERM, fork) are made by
:class:`lookout.core.Lookout` and call back into it. They name what they call here instead of
importing the Lookout class, so that ``core`` imports them and none of them imports ``core``:
the modules form no import circle (tests/test_imports.py), and each can be read, and tested,
without the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lookout.notify.base import Message, Notifications, Severity

if TYPE_CHECKING:
    from lookout.config import Settings
    from lookout.events import Event
    from lookout.recorder import Recorder


class Notifying(Protocol):
    """Sends messages to people (the alert engine's only need)."""

    def notify(
        self,
        message: Message | str,
        body: str = "",
        *,
        attachments: Sequence[str | Path] = (),
        severity: Severity = "info",
        via: Notifications | None = None,
    ) -> dict[str, str | None]: ...


class Recording(Notifying, Protocol):
    """Records events and sends messages (what a supervised run needs)."""

    notifications: Notifications

    def emit(self, event: Event) -> bool: ...

    def flush(self, timeout: float = 5.0) -> bool: ...


class Managed(Protocol):
    """What the process hooks flush, close and restart after a fork."""

    settings: Settings
    recorder: Recorder

    def flush(self, timeout: float = 5.0) -> bool: ...

    def close(self, timeout: float | None = None) -> bool: ...
