"""The Slack notifier: an incoming webhook with Block Kit formatting.

Slack's limits shape the message: a header block holds 150 characters, a section 3,000, a
message 50 blocks. A long body (a traceback, a summary) is split over sections at line breaks;
what still does not fit is cut with a note saying how much. Incoming webhooks cannot carry
files, so attachments are listed by name and size; with a bot token and a channel they are
uploaded through the Web API (``files.getUploadURLExternal`` then
``files.completeUploadExternal``) into that channel.
"""

from __future__ import annotations

from typing import Any

from lookout._internal import optional_dependency
from lookout.notify.attachments import describe
from lookout.notify.base import PreparedMessage
from lookout.sinks.base import PermanentWriteError
from lookout.sinks.http import check_delivery

with optional_dependency("http", "the Slack notifier"):
    import requests

SLACK_API = "https://slack.com/api"
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
CONTEXT_LIMIT = 2000
_ICONS = {
    "error": ":red_circle:",
    "resolved": ":large_green_circle:",
    "info": ":information_source:",
}


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only ``&``, ``<`` and ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut at line breaks where possible."""
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = size if cut <= 0 else cut
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        pieces.append(text)
    return pieces


def blocks(message: PreparedMessage) -> list[dict[str, Any]]:
    """The Block Kit blocks for ``message``, within Slack's limits."""
    header = f"{message.subject}"
    if len(header) > HEADER_LIMIT:
        header = header[: HEADER_LIMIT - 1] + "…"
    result: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}
    ]
    fence = "```"
    body = escape(message.body)
    sections = _chunks(body, SECTION_LIMIT - 2 * len(fence) - 2)
    room = MAX_BLOCKS - 3  # header, attachments and truncation contexts
    shown, hidden = sections[:room], sections[room:]
    for piece in shown:
        result.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{fence}\n{piece}\n{fence}"}}
        )
    if hidden:
        left = sum(len(piece) for piece in hidden)
        result.append(_context(f"… {left:,} more characters not shown (Slack's message limit)."))
    if message.attachments:
        names = ", ".join(describe(attachment) for attachment in message.attachments)
        result.append(_context(f":paperclip: {escape(names)}"))
    return result


def _context(text: str) -> dict[str, Any]:
    if len(text) > CONTEXT_LIMIT:
        text = text[: CONTEXT_LIMIT - 1] + "…"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


class SlackNotifier:
    """Posts each message to a Slack channel.

    Args:
        webhook_url: the incoming webhook's URL (a secret: never logged).
        bot_token: with ``channel``, upload attachments through the Web API (``files:write``).
        channel: the channel id for uploads.
        api_base_url: Slack's Web API (another URL for tests).
        timeout: seconds for connecting and for the answer.
    """

    name = "slack"

    def __init__(
        self,
        webhook_url: str,
        *,
        bot_token: str | None = None,
        channel: str | None = None,
        api_base_url: str = SLACK_API,
        timeout: float = 30.0,
    ) -> None:
        if (bot_token is None) != (channel is None):
            raise ValueError("SlackNotifier: bot_token and channel go together (for uploads)")
        self._webhook_url = webhook_url
        self._bot_token = bot_token
        self.channel = channel
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"SlackNotifier(channel={self.channel!r})"

    def payload(self, message: PreparedMessage) -> dict[str, Any]:
        icon = _ICONS.get(message.severity, "")
        return {"text": f"{icon} {message.subject}".strip(), "blocks": blocks(message)}

    def send(self, message: PreparedMessage) -> None:
        response = self._session.post(
            self._webhook_url, json=self.payload(message), timeout=self.timeout
        )
        check_delivery(response, (200,), "Slack webhook")
        if self._bot_token is not None and message.attachments:
            self._upload(message)

    def _api(self, method: str, **kwargs: Any) -> dict[str, Any]:
        response = self._session.post(
            f"{self.api_base_url}/{method}",
            headers={"Authorization": f"Bearer {self._bot_token}"},
            timeout=self.timeout,
            **kwargs,
        )
        check_delivery(response, (200,), f"Slack {method}")
        answer: dict[str, Any] = response.json()
        if not answer.get("ok"):
            raise PermanentWriteError(f"Slack {method}: {answer.get('error', answer)}")
        return answer

    def _upload(self, message: PreparedMessage) -> None:
        files = []
        for attachment in message.attachments:
            ticket = self._api(
                "files.getUploadURLExternal",
                data={"filename": attachment.filename, "length": len(attachment.content)},
            )
            upload = self._session.post(
                ticket["upload_url"], data=attachment.content, timeout=self.timeout
            )
            check_delivery(upload, (200,), "Slack file upload")
            files.append({"id": ticket["file_id"], "title": attachment.filename})
        self._api(
            "files.completeUploadExternal",
            json={"files": files, "channel_id": self.channel, "initial_comment": message.subject},
        )
