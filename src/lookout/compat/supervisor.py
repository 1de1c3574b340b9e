"""agrc supervisor's API (``Supervisor``, ``MessageDetails``, the message handlers), on Lookout.

    from lookout.compat.supervisor import (
        ConsoleHandler, EmailHandler, MessageDetails, SendGridHandler, SlackHandler, Supervisor)

A ``Supervisor`` installs the error hooks when created (unless ``handle_errors=False``); an
uncaught error is logged to ``logger`` at ERROR and sent through every handler with the log at
``log_path`` attached, gzipped. ``notify(MessageDetails)`` sends a message through every
handler; attachments are gzipped on the fly. Handlers are Lookout notifiers, so each one is
retried on transient errors and one failing handler never stops the others.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import html
import io
import logging
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lookout.compat import UnsupportedOption, warn_once
from lookout.core import Lookout
from lookout.notify import ConsoleNotifier, Message, Notifier
from lookout.notify.attachments import Attachment
from lookout.notify.base import PreparedMessage
from lookout.notify.sendgrid import SendGridNotifier
from lookout.supervise import Supervisor as _Run


class MessageDetails:
    """What to send: ``subject``, ``message`` (one string) and ``attachments`` (a path or a
    list of paths)."""

    def __init__(
        self, subject: str = "", message: str = "", attachments: str | Sequence[str] = ()
    ) -> None:
        self.subject = subject
        self.message = message
        self.attachments = attachments


class MessageHandler:
    """Base of the handlers: each carries one Lookout notifier."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier


class _AsOriginal:
    """Sends as agrc supervisor 3.x formats: ``prefix`` glued to the subject (no space), and
    ``<client_name> version: <client_version>`` after the message (where the original puts
    them: never in the subject)."""

    def __init__(self, inner: Notifier, prefix: str, name: str, version: str) -> None:
        self.inner, self.prefix = inner, prefix
        self.footer = f"{name} version: {version}"
        self.name = inner.name

    def send(self, message: PreparedMessage) -> None:
        self.inner.send(
            dataclasses.replace(
                message,
                subject=self.prefix + message.subject,
                body=f"{message.body}\n\n{self.footer}",
                html=f"{message.html}<p>{html.escape(self.footer)}</p>",
            )
        )


def _client(
    project_name: str | None,
    project_version: str | None,
    client_name: str | None,
    client_version: str | None,
) -> tuple[str, str]:
    """The README's ``project_name``/``project_version`` or 3.x's ``client_*``, with 3.x's
    defaults."""
    name = client_name or project_name or "unknown client"
    version = client_version or project_version or "not specified"
    return name, version


class ConsoleHandler(MessageHandler):
    """Prints each message's text to stdout, as the original's ``print``."""

    def __init__(self) -> None:
        super().__init__(ConsoleNotifier(stream=sys.stdout))


class EmailHandler(MessageHandler):
    """Email over SMTP. ``email_settings``: ``smtpServer``, ``smtpPort``, ``from_address``,
    ``to_addresses`` (or ``to_address``), and optionally ``prefix``, ``username``,
    ``password``, ``starttls``."""

    def __init__(
        self,
        email_settings: Mapping[str, Any],
        client_name: str | None = None,
        client_version: str | None = None,
        *,
        project_name: str | None = None,
        project_version: str | None = None,
    ) -> None:
        from lookout.notify.smtp import SmtpNotifier

        _check_keys("EmailHandler", email_settings, EMAIL_KEYS)
        starttls = bool(email_settings.get("starttls", False))
        if not starttls:
            warn_once(
                "supervisor-smtp-plain",
                "EmailHandler sends mail without TLS, as agrc supervisor did; set "
                "'starttls': True in email_settings to encrypt it",
            )
        notifier = SmtpNotifier(
            email_settings["smtpServer"],
            int(email_settings.get("smtpPort", 25)),
            from_address=email_settings["from_address"],
            to_addresses=_recipients(email_settings),
            username=email_settings.get("username"),
            password=email_settings.get("password"),
            starttls=starttls,
            use_ssl=False,
        )
        name, version = _client(project_name, project_version, client_name, client_version)
        super().__init__(_AsOriginal(notifier, email_settings.get("prefix", ""), name, version))


def _as_zip(attachment: Attachment) -> tuple[str, bytes]:
    """The original's attachment: the file zipped alone (``<stem>.zip``, deflated) where
    Lookout gzips it; a file that was compressed already is zipped as it is."""
    name, data = attachment.filename, attachment.content
    if attachment.mimetype == "application/gzip" and name.endswith(".gz"):
        name, data = name[:-3], gzip.decompress(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return f"{Path(name).stem}.zip", buffer.getvalue()


class _OriginalSendGrid(SendGridNotifier):
    def payload(self, message: PreparedMessage) -> dict[str, Any]:
        """What agrc supervisor 3.x's SendGridHandler posts (its ``Mail(...).get()``): the
        text alone (no HTML part), each attachment zipped, no disposition."""
        body: dict[str, Any] = {
            "from": {"email": self.from_address},
            "subject": message.subject,
            "personalizations": [{"to": [{"email": a} for a in self.to_addresses]}],
            "content": [{"type": "text/plain", "value": message.body}],
        }
        if message.attachments:
            zipped = [_as_zip(attachment) for attachment in message.attachments]
            body["attachments"] = [
                {
                    "content": base64.b64encode(data).decode("ascii"),
                    "type": "application/zip",
                    "filename": name,
                }
                for name, data in zipped
            ]
        return body


class SendGridHandler(MessageHandler):
    """SendGrid. ``sendgrid_settings``: ``from_address``, ``to_addresses`` (or
    ``to_address``), ``api_key``, and optionally ``prefix`` and ``api_base_url``. Sends the
    original's request body: plain text only, attachments zipped (tests/compat/test_originals.py
    compares the two)."""

    def __init__(
        self,
        sendgrid_settings: Mapping[str, Any],
        client_name: str | None = None,
        client_version: str | None = None,
        *,
        project_name: str | None = None,
        project_version: str | None = None,
    ) -> None:
        _check_keys("SendGridHandler", sendgrid_settings, SENDGRID_KEYS)
        notifier = _OriginalSendGrid(
            sendgrid_settings["api_key"],
            from_address=sendgrid_settings["from_address"],
            to_addresses=_recipients(sendgrid_settings),
            api_base_url=sendgrid_settings.get("api_base_url"),
        )
        name, version = _client(project_name, project_version, client_name, client_version)
        super().__init__(_AsOriginal(notifier, sendgrid_settings.get("prefix", ""), name, version))


class SlackHandler(MessageHandler):
    """Slack through an incoming webhook. ``slack_settings``: ``webhook_url``, optionally
    ``prefix``. (agrc supervisor's SlackHandler sends nothing; this one sends, formatted as its
    e-mail handlers: the project's name and version after the message.)"""

    def __init__(
        self,
        slack_settings: Mapping[str, Any],
        client_name: str | None = None,
        client_version: str | None = None,
        *,
        project_name: str | None = None,
        project_version: str | None = None,
    ) -> None:
        from lookout.notify.slack import SlackNotifier

        _check_keys("SlackHandler", slack_settings, SLACK_KEYS)
        name, version = _client(project_name, project_version, client_name, client_version)
        notifier = SlackNotifier(slack_settings["webhook_url"])
        super().__init__(_AsOriginal(notifier, slack_settings.get("prefix", ""), name, version))


EMAIL_KEYS = frozenset(
    {"smtpServer", "smtpPort", "from_address", "to_addresses", "to_address", "prefix"}
    | {"username", "password", "starttls"}
)
SENDGRID_KEYS = frozenset(
    {"from_address", "to_address", "to_addresses", "api_key", "prefix", "api_base_url"}
)
SLACK_KEYS = frozenset({"webhook_url", "prefix"})


def _check_keys(handler: str, settings: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UnsupportedOption(
            f"{handler}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )


def _recipients(settings: Mapping[str, Any]) -> list[str]:
    found = settings.get("to_addresses", settings.get("to_address"))
    if not found:
        raise KeyError("to_address")
    return [found] if isinstance(found, str) else list(found)


class Supervisor:
    """Watches the script from its creation to its end.

    Args:
        handle_errors: send uncaught errors through the handlers (and log them).
        logger: uncaught errors are logged here at ERROR.
        log_path: the log file attached (gzipped) to error messages.
        lookout: record the run through this Lookout (default: one without a store).
    """

    def __init__(
        self,
        handle_errors: bool = True,
        logger: logging.Logger | None = None,
        log_path: str | Path | None = None,
        *,
        lookout: Lookout | None = None,
    ) -> None:
        self.lookout = lookout or Lookout(store=None)
        self.log_path = log_path
        name = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "script"
        self._run = _Run(
            name or "script",
            lookout=self.lookout,
            logger=logger,
            handle_errors=handle_errors,
            log_path=log_path,
            send_summary=False,
        )
        self._run.start()

    def add_message_handler(self, handler: MessageHandler) -> None:
        self._run.add_notifier(handler.notifier)

    def notify(self, message_details: MessageDetails) -> None:
        attachments = message_details.attachments
        paths = [attachments] if isinstance(attachments, (str, Path)) else list(attachments)
        self._run.notify(
            Message(message_details.subject, message_details.message, attachments=paths)
        )
