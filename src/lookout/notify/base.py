"""Messages for people, and the small interface every notifier implements.

Sinks carry events for machines; notifiers carry a few messages for people (a job failed, an
alert fired, a script's summary). A :class:`Message` is prepared once (attachments read,
gzipped and capped) and then handed to every notifier; :class:`Notifications` sends it through
each with retries, so one failing notifier never stops the others, and counts every outcome.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from lookout.notify.attachments import DEFAULT_MAX_ATTACHMENT_BYTES, Attachment, prepare
from lookout.sink_queue import RetryPolicy
from lookout.sinks.base import PermanentWriteError

logger = logging.getLogger("lookout.notify")

Severity = Literal["info", "error", "resolved"]


@dataclasses.dataclass
class Message:
    """What a person receives.

    Args:
        subject: one line.
        body: plain text.
        html: an HTML version of the body (by default the text, escaped, in ``<pre>``).
        attachments: files to attach, by path; gzipped on the fly unless already compressed.
        severity: ``info``, ``error`` or ``resolved``; notifiers may style by it.
        max_attachment_bytes: cap on all attachments together, after compression.
    """

    subject: str
    body: str = ""
    html: str | None = None
    attachments: Sequence[str | Path] = ()
    severity: Severity = "info"
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES


@dataclasses.dataclass(frozen=True)
class PreparedMessage:
    """A message ready to send: attachments read, and notes on what was left out."""

    subject: str
    body: str
    html: str
    attachments: tuple[Attachment, ...]
    notes: tuple[str, ...]
    severity: Severity

    @classmethod
    def from_message(cls, message: Message) -> PreparedMessage:
        attachments, notes = prepare(message.attachments, message.max_attachment_bytes)
        body = message.body
        if notes:
            body = f"{body}\n\n" + "\n".join(f"Note: {note}" for note in notes)
        markup = message.html
        if markup is None:
            markup = f"<pre>{html.escape(body)}</pre>"
        elif notes:
            markup += "".join(f"<p><em>Note: {html.escape(note)}</em></p>" for note in notes)
        return cls(
            message.subject,
            body,
            markup,
            tuple(attachments),
            tuple(notes),
            message.severity,
        )


@runtime_checkable
class Notifier(Protocol):
    """Sends a prepared message somewhere.

    ``send`` raises to fail: :class:`~lookout.sinks.base.PermanentWriteError` when retrying
    cannot help (bad credentials, a refused address), anything else to be retried.
    """

    name: str

    def send(self, message: PreparedMessage) -> None: ...


@dataclasses.dataclass
class NotifierCounters:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    last_error: str | None = None


class Notifications:
    """Sends messages through every registered notifier, isolated from each other.

    Args:
        notifiers: where messages go.
        retry: how a failing notifier is retried (backoff with jitter).
        sleep: how to wait between retries (tests pass a fake).
    """

    def __init__(
        self,
        notifiers: Sequence[Notifier] = (),
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.notifiers: list[Notifier] = list(notifiers)
        self.retry = retry or RetryPolicy(max_retries=3, backoff=1.0, max_backoff=30.0)
        self._sleep = sleep
        self.counters: dict[str, NotifierCounters] = {}
        self._lock = threading.Lock()

    def send(self, message: Message | PreparedMessage) -> dict[str, str | None]:
        """Send through every notifier; return, per notifier, None when sent or the error.

        Never raises because a notifier failed: the outcome is logged, counted (see
        ``stats()``) and returned.
        """
        prepared = (
            message
            if isinstance(message, PreparedMessage)
            else PreparedMessage.from_message(message)
        )
        with self._lock:
            notifiers = list(self.notifiers)
        return {
            label: self._send_one(label, notifier, prepared)
            for label, notifier in zip(_labels(notifiers), notifiers, strict=True)
        }

    def _send_one(self, label: str, notifier: Notifier, message: PreparedMessage) -> str | None:
        counters = self.counters.setdefault(label, NotifierCounters())
        attempt = 0
        while True:
            try:
                notifier.send(message)
            except Exception as exc:
                error = (
                    f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
                )
                counters.last_error = error
                attempt += 1
                retry_after = getattr(exc, "retry_after", None)
                if isinstance(exc, PermanentWriteError) or attempt > self.retry.max_retries:
                    counters.failed += 1
                    logger.warning(
                        "lookout: notifier %r could not send %r after %d attempts: %s",
                        label,
                        message.subject,
                        attempt,
                        error,
                    )
                    return error
                counters.retried += 1
                delay = self.retry.delay(attempt)
                if isinstance(retry_after, (int, float)):
                    delay = max(delay, min(float(retry_after), self.retry.max_backoff))
                self._sleep(delay)
            else:
                counters.sent += 1
                return None

    def stats(self) -> dict[str, dict[str, object]]:
        return {name: dataclasses.asdict(counters) for name, counters in self.counters.items()}


def _labels(notifiers: Sequence[Notifier]) -> list[str]:
    """Each notifier's name, numbered when several share one (``smtp``, ``smtp#2``)."""
    seen: dict[str, int] = {}
    labels = []
    for notifier in notifiers:
        name = getattr(notifier, "name", type(notifier).__name__)
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels
