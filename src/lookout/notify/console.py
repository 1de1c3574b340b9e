"""The console notifier: messages on stderr, for scripts run by hand and for cron's mail."""

from __future__ import annotations

import sys
from typing import TextIO

from lookout.notify.attachments import describe
from lookout.notify.base import PreparedMessage


class ConsoleNotifier:
    """Writes each message, readable, to a stream (stderr by default)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, message: PreparedMessage) -> None:
        stream = self._stream or sys.stderr  # looked up late: tests and daemons swap stderr
        rule = "=" * min(78, max(20, len(message.subject) + 8))
        lines = [rule, f"[{message.severity.upper()}] {message.subject}", rule, message.body]
        lines += [f"Attached: {describe(attachment)}" for attachment in message.attachments]
        stream.write("\n".join(lines).rstrip() + "\n\n")
        stream.flush()
