"""The SendGrid notifier: the v3 ``mail/send`` API over HTTPS."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import Any

from lookout._internal import optional_dependency
from lookout.notify.base import PreparedMessage
from lookout.sinks.http import check_delivery

with optional_dependency("http", "the SendGrid notifier"):
    import requests

SENDGRID_API = "https://api.sendgrid.com"


class SendGridNotifier:
    """Sends each message through SendGrid's v3 Web API.

    Args:
        api_key: a SendGrid API key with Mail Send permission; sent as a bearer token, never
            logged.
        from_address: a verified sender.
        to_addresses: one address or several.
        subject_prefix: put before every subject.
        api_base_url: SendGrid's API (another URL for a proxy or a test server; default
            ``$LOOKOUT_SENDGRID_API_URL`` or ``https://api.sendgrid.com``).
        timeout: seconds for connecting and for the answer.
    """

    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        *,
        from_address: str,
        to_addresses: str | Sequence[str],
        subject_prefix: str = "",
        api_base_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._api_key = api_key
        self.from_address = from_address
        self.to_addresses = [to_addresses] if isinstance(to_addresses, str) else list(to_addresses)
        if not self.to_addresses:
            raise ValueError("SendGridNotifier: to_addresses is empty")
        self.subject_prefix = subject_prefix
        base = api_base_url or os.environ.get("LOOKOUT_SENDGRID_API_URL") or SENDGRID_API
        self.url = base.rstrip("/") + "/v3/mail/send"
        self.timeout = timeout
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"SendGridNotifier(to={self.to_addresses})"

    def payload(self, message: PreparedMessage) -> dict[str, Any]:
        """The JSON body SendGrid documents for ``POST /v3/mail/send``."""
        body: dict[str, Any] = {
            "personalizations": [{"to": [{"email": address} for address in self.to_addresses]}],
            "from": {"email": self.from_address},
            "subject": f"{self.subject_prefix} {message.subject}".strip(),
            "content": [
                {"type": "text/plain", "value": message.body or message.subject},
                {"type": "text/html", "value": message.html},
            ],
        }
        if message.attachments:
            body["attachments"] = [
                {
                    "content": base64.b64encode(attachment.content).decode("ascii"),
                    "filename": attachment.filename,
                    "type": attachment.mimetype,
                    "disposition": "attachment",
                }
                for attachment in message.attachments
            ]
        return body

    def send(self, message: PreparedMessage) -> None:
        response = self._session.post(
            self.url,
            json=self.payload(message),
            headers={"Authorization": f"Bearer {self._api_key}"},
            timeout=self.timeout,
        )
        check_delivery(response, (200, 202), f"SendGrid {self.url}")
