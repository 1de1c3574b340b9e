"""Notifiers: messages for people through the console, email, SendGrid, Slack or a webhook.

    from lookout.notify import Message, SmtpNotifier
    lk = Lookout(notifiers=[SmtpNotifier("smtp.example.com", from_address=..., to_addresses=...)])
    lk.notify(Message("Import done", "42 rows", attachments=["import.log"]))

Notifiers named in configuration (``[[notifiers]]`` tables with a ``type``) are built by
:func:`build_notifier`; each module is imported only when its type is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lookout.notify.attachments import Attachment
from lookout.notify.base import Message, Notifications, Notifier, PreparedMessage
from lookout.notify.console import ConsoleNotifier

#: type -> (module, class)
NOTIFIER_TYPES = {
    "console": ("lookout.notify.console", "ConsoleNotifier"),
    "smtp": ("lookout.notify.smtp", "SmtpNotifier"),
    "sendgrid": ("lookout.notify.sendgrid", "SendGridNotifier"),
    "slack": ("lookout.notify.slack", "SlackNotifier"),
    "webhook": ("lookout.notify.webhook", "WebhookNotifier"),
}


def build_notifier(spec: Mapping[str, Any]) -> Notifier:
    """Build the notifier a configuration table describes (``type`` plus its options)."""
    from lookout.sinks.registry import build_sink

    notifier: Notifier = build_sink(spec, NOTIFIER_TYPES, "notifier")
    return notifier


__all__ = [
    "NOTIFIER_TYPES",
    "Attachment",
    "ConsoleNotifier",
    "Message",
    "Notifications",
    "Notifier",
    "PreparedMessage",
    "build_notifier",
]
