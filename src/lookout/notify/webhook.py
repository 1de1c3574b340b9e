"""The webhook notifier: each message as JSON to any URL, optionally signed with HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from lookout._internal import optional_dependency
from lookout.events import HOSTNAME
from lookout.notify.base import PreparedMessage
from lookout.sinks.http import check_delivery

with optional_dependency("http", "the webhook notifier"):
    import requests

SIGNATURE_HEADER = "X-Lookout-Signature"
TIMESTAMP_HEADER = "X-Lookout-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``timestamp.body``: the receiver recomputes it and
    rejects old timestamps, so a captured request cannot be replayed later."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookNotifier:
    """POSTs each message as JSON.

    The body: ``subject``, ``body``, ``severity``, ``host``, ``notes`` and ``attachments``
    (``filename``, ``mimetype``, ``size``, ``content_base64``).

    Args:
        url: where to POST.
        headers: sent with every request (e.g. an API key).
        secret: sign each request: ``X-Lookout-Timestamp`` and ``X-Lookout-Signature``.
        include_attachments: send attachment contents (base64), not only their names.
        verify: verify TLS certificates (default True), or a CA bundle path.
        timeout: seconds for connecting and for the answer.
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secret: str | None = None,
        include_attachments: bool = True,
        verify: bool | str = True,
        timeout: float = 30.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"WebhookNotifier: url must start with http:// or https://; got {url!r}"
            )
        self.url = url
        self.headers = dict(headers or {})
        self._secret = secret
        self.include_attachments = include_attachments
        self.verify = verify
        self.timeout = timeout
        self._session = requests.Session()

    def payload(self, message: PreparedMessage) -> dict[str, Any]:
        return {
            "subject": message.subject,
            "body": message.body,
            "severity": message.severity,
            "host": HOSTNAME,
            "notes": list(message.notes),
            "attachments": [
                {
                    "filename": attachment.filename,
                    "mimetype": attachment.mimetype,
                    "size": len(attachment.content),
                    **(
                        {"content_base64": base64.b64encode(attachment.content).decode("ascii")}
                        if self.include_attachments
                        else {}
                    ),
                }
                for attachment in message.attachments
            ],
        }

    def send(self, message: PreparedMessage) -> None:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", **self.headers}
        if self._secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, body)
        response = self._session.post(
            self.url, data=body, headers=headers, verify=self.verify, timeout=self.timeout
        )
        check_delivery(response, (200, 201, 202, 204), f"webhook {self.url}")
