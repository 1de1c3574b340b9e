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

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lookout.compat import warn_once
from lookout.core import Lookout
from lookout.notify import ConsoleNotifier, Message, Notifier
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


class ConsoleHandler(MessageHandler):
    """Prints messages to stderr."""

    def __init__(self) -> None:
        super().__init__(ConsoleNotifier())


class EmailHandler(MessageHandler):
    """Email over SMTP. ``email_settings``: ``smtpServer``, ``smtpPort``, ``from_address``,
    ``to_addresses`` (or ``to_address``), and optionally ``prefix``, ``username``,
    ``password``, ``starttls``."""

    def __init__(
        self, email_settings: Mapping[str, Any], project_name: str = "", project_version: str = ""
    ) -> None:
        from lookout.notify.smtp import SmtpNotifier

        starttls = bool(email_settings.get("starttls", False))
        if not starttls:
            warn_once(
                "supervisor-smtp-plain",
                "EmailHandler sends mail without TLS, as agrc supervisor did; set "
                "'starttls': True in email_settings to encrypt it",
            )
        super().__init__(
            SmtpNotifier(
                email_settings["smtpServer"],
                int(email_settings.get("smtpPort", 25)),
                from_address=email_settings["from_address"],
                to_addresses=_recipients(email_settings),
                username=email_settings.get("username"),
                password=email_settings.get("password"),
                starttls=starttls,
                use_ssl=False,
                subject_prefix=_prefix(email_settings, project_name, project_version),
            )
        )


class SendGridHandler(MessageHandler):
    """SendGrid. ``sendgrid_settings``: ``from_address``, ``to_address`` (or
    ``to_addresses``), ``api_key``, and optionally ``prefix`` and ``api_base_url``."""

    def __init__(
        self,
        sendgrid_settings: Mapping[str, Any],
        project_name: str = "",
        project_version: str = "",
    ) -> None:
        from lookout.notify.sendgrid import SendGridNotifier

        super().__init__(
            SendGridNotifier(
                sendgrid_settings["api_key"],
                from_address=sendgrid_settings["from_address"],
                to_addresses=_recipients(sendgrid_settings),
                subject_prefix=_prefix(sendgrid_settings, project_name, project_version),
                api_base_url=sendgrid_settings.get("api_base_url"),
            )
        )


class SlackHandler(MessageHandler):
    """Slack through an incoming webhook. ``slack_settings``: ``webhook_url``."""

    def __init__(
        self, slack_settings: Mapping[str, Any], project_name: str = "", project_version: str = ""
    ) -> None:
        from lookout.notify.slack import SlackNotifier

        super().__init__(SlackNotifier(slack_settings["webhook_url"]))


def _recipients(settings: Mapping[str, Any]) -> list[str]:
    found = settings.get("to_addresses", settings.get("to_address"))
    if not found:
        raise KeyError("to_address")
    return [found] if isinstance(found, str) else list(found)


def _prefix(settings: Mapping[str, Any], project_name: str, project_version: str) -> str:
    if settings.get("prefix"):
        return str(settings["prefix"])
    return f"{project_name} {project_version}".strip()


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
