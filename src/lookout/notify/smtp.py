"""The email notifier: SMTP with STARTTLS or TLS, plain text with an HTML alternative."""

from __future__ import annotations

import email.utils
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from lookout.notify.base import PreparedMessage
from lookout.sinks.base import PermanentWriteError


class SmtpNotifier:
    """Sends each message as one email to every recipient.

    Args:
        host: the SMTP server.
        port: 587 for STARTTLS, 465 for TLS, 25 for neither.
        from_address: the sender.
        to_addresses: one address or several.
        username: log in with this user (after STARTTLS, never in clear on a TLS-capable server).
        password: and this password; never logged.
        starttls: upgrade the connection with STARTTLS (default True when the port is 587).
        use_ssl: connect with TLS from the start (default True when the port is 465).
        subject_prefix: put before every subject, e.g. ``[nightly]``.
        timeout: seconds for connecting and for each command.
        ssl_context: TLS settings (certificate checks are on by default).
    """

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        from_address: str,
        to_addresses: str | Sequence[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool | None = None,
        use_ssl: bool | None = None,
        subject_prefix: str = "",
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.from_address = from_address
        self.to_addresses = [to_addresses] if isinstance(to_addresses, str) else list(to_addresses)
        if not self.to_addresses:
            raise ValueError("SmtpNotifier: to_addresses is empty")
        self.username, self._password = username, password
        self.use_ssl = port == 465 if use_ssl is None else use_ssl
        self.starttls = (port == 587 and not self.use_ssl) if starttls is None else starttls
        self.subject_prefix = subject_prefix
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def __repr__(self) -> str:  # never shows the password
        return f"SmtpNotifier({self.host}:{self.port}, to={self.to_addresses})"

    def build(self, message: PreparedMessage) -> EmailMessage:
        """The email for ``message``: text, HTML alternative, attachments."""
        mail = EmailMessage()
        subject = f"{self.subject_prefix} {message.subject}".strip()
        mail["Subject"] = subject.replace("\r", " ").replace("\n", " ")
        mail["From"] = self.from_address
        mail["To"] = ", ".join(self.to_addresses)
        mail["Date"] = email.utils.formatdate(localtime=False)
        mail["Message-ID"] = email.utils.make_msgid(domain="lookout.invalid")
        mail.set_content(message.body or message.subject)
        mail.add_alternative(message.html, subtype="html")
        for attachment in message.attachments:
            mail.add_attachment(
                attachment.content,
                maintype=attachment.maintype,
                subtype=attachment.subtype,
                filename=attachment.filename,
            )
        return mail

    def send(self, message: PreparedMessage) -> None:
        mail = self.build(message)
        connection: smtplib.SMTP
        try:
            if self.use_ssl:
                connection = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.ssl_context
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with connection:
                if self.starttls:
                    connection.starttls(context=self.ssl_context)
                if self.username is not None:
                    connection.login(self.username, self._password or "")
                connection.send_message(mail, self.from_address, self.to_addresses)
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused) as error:
            raise PermanentWriteError(
                f"{self.host}:{self.port} refused ({type(error).__name__}): {error}"
            ) from error
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:  # 5xx: permanent by SMTP's own definition
                raise PermanentWriteError(f"{self.host}:{self.port}: {error}") from error
            raise
