"""Each notifier against a real peer on 127.0.0.1: an SMTP server (aiosmtpd) and HTTP servers
standing in for SendGrid, Slack and a webhook receiver, asserting the documented payloads."""

from __future__ import annotations

import base64
import email
import email.policy
import gzip
import hashlib
import hmac
import io
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from lookout import Lookout
from lookout.notify import ConsoleNotifier, Message, Notifications, PreparedMessage
from lookout.notify.sendgrid import SendGridNotifier
from lookout.notify.slack import MAX_BLOCKS, SECTION_LIMIT, SlackNotifier
from lookout.notify.smtp import SmtpNotifier
from lookout.notify.webhook import WebhookNotifier
from lookout.recorder import RetryPolicy
from tests.receivers import Mailbox, Receiver

LOG_TEXT = "".join(f"2026-11-23 03:00:{n % 60:02d} INFO row {n} imported\n" for n in range(2000))


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "import.log"
    path.write_text(LOG_TEXT)
    return path


def _prepared(log_file: Path, **options: Any) -> PreparedMessage:
    options.setdefault("severity", "error")
    return PreparedMessage.from_message(
        Message(
            "nightly-import failed",
            "Traceback...\nValueError: boom",
            attachments=[log_file],
            **options,
        )
    )


# -- SMTP (a real server: the ``smtp_server`` fixture in tests/conftest.py) ----------------------
def test_smtp_mail_with_html_alternative_and_gzipped_log(
    smtp_server: tuple[Mailbox, int, list[tuple[str, str]]], log_file: Path
) -> None:
    mailbox, port, logins = smtp_server
    notifier = SmtpNotifier(
        "127.0.0.1",
        port,
        from_address="robot@example.org",
        to_addresses=["ops@example.org", "dev@example.org"],
        username="robot",
        password="right",
        starttls=False,
        subject_prefix="[prod]",
    )
    assert "right" not in repr(notifier)
    notifier.send(_prepared(log_file))
    [(sender, recipients, raw)] = mailbox.messages
    assert (sender, recipients) == ("robot@example.org", ["ops@example.org", "dev@example.org"])
    assert logins == [("robot", "right")]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == "[prod] nightly-import failed"
    assert mail["To"] == "ops@example.org, dev@example.org"
    text = mail.get_body(("plain",))
    markup = mail.get_body(("html",))
    assert text is not None and "ValueError: boom" in text.get_content()
    assert (
        markup is not None and "<pre>Traceback...\r\nValueError: boom</pre>" in markup.get_content()
    )
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "import.log.gz"
    assert attachment.get_content_type() == "application/gzip"
    assert gzip.decompress(attachment.get_content()).decode() == LOG_TEXT


def test_smtp_wrong_password_fails_at_once_without_retries(
    smtp_server: tuple[Mailbox, int, list[tuple[str, str]]], log_file: Path
) -> None:
    mailbox, port, logins = smtp_server
    notifier = SmtpNotifier(
        "127.0.0.1",
        port,
        from_address="a@x.org",
        to_addresses="b@x.org",
        username="robot",
        password="wrong",
        starttls=False,
    )
    sleeps: list[float] = []
    notifications = Notifications([notifier], sleep=sleeps.append)
    outcome = notifications.send(_prepared(log_file))
    assert outcome["smtp"] is not None and "SMTPAuthenticationError" in outcome["smtp"]
    assert set(logins) == {("robot", "wrong")}  # smtplib tries each mechanism once
    assert (sleeps, mailbox.messages) == ([], [])
    assert notifications.stats()["smtp"]["failed"] == 1


# -- SendGrid ----------------------------------------------------------------------------------
def test_sendgrid_v3_mail_send_payload(receiver: Receiver, log_file: Path) -> None:
    receiver.plan = [(202, {})]
    base = receiver.url.rsplit("/", 1)[0]
    notifier = SendGridNotifier(
        "SG.secret",
        from_address="robot@example.org",
        to_addresses=["ops@example.org"],
        api_base_url=base,
    )
    notifier.send(_prepared(log_file))
    [request] = receiver.requests
    assert request["path"] == "/v3/mail/send"
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    assert headers["Authorization"] == "Bearer SG.secret"
    payload = json.loads(request["body"])  # type: ignore[arg-type]
    [attachment] = payload.pop("attachments")
    assert payload == {
        "personalizations": [{"to": [{"email": "ops@example.org"}]}],
        "from": {"email": "robot@example.org"},
        "subject": "nightly-import failed",
        "content": [
            {"type": "text/plain", "value": "Traceback...\nValueError: boom"},
            {"type": "text/html", "value": "<pre>Traceback...\nValueError: boom</pre>"},
        ],
    }
    assert (attachment["filename"], attachment["type"], attachment["disposition"]) == (
        "import.log.gz",
        "application/gzip",
        "attachment",
    )
    assert gzip.decompress(base64.b64decode(attachment["content"])).decode() == LOG_TEXT


# -- Slack -------------------------------------------------------------------------------------
def test_slack_blocks_split_long_bodies_within_limits(receiver: Receiver, log_file: Path) -> None:
    notifier = SlackNotifier(receiver.url)
    long_body = "\n".join(f"line {n} <b>&" for n in range(1500))  # ~20,000 characters
    notifier.send(
        PreparedMessage.from_message(Message("x" * 200, long_body, attachments=[log_file]))
    )
    payload = json.loads(receiver.requests[0]["body"])  # type: ignore[arg-type]
    blocks = payload["blocks"]
    assert payload["text"] == ":information_source: " + "x" * 200
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) == 150
    sections = [block["text"]["text"] for block in blocks if block["type"] == "section"]
    assert all(len(text) <= SECTION_LIMIT for text in sections)
    joined = "\n".join(text.strip("`\n") for text in sections)
    assert joined == long_body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert blocks[-1]["type"] == "context" and "import.log.gz" in blocks[-1]["elements"][0]["text"]


def test_slack_truncates_what_no_message_can_hold(receiver: Receiver) -> None:
    notifier = SlackNotifier(receiver.url)
    notifier.send(PreparedMessage.from_message(Message("huge", "y" * 400_000)))
    blocks = json.loads(receiver.requests[0]["body"])["blocks"]  # type: ignore[arg-type]
    assert len(blocks) <= MAX_BLOCKS
    assert "more characters not shown" in blocks[-1]["elements"][0]["text"]


def test_slack_uploads_attachments_with_a_bot_token(receiver: Receiver, log_file: Path) -> None:
    base = receiver.url.rsplit("/", 1)[0]
    ticket = {"ok": True, "upload_url": f"{base}/upload/F1", "file_id": "F1"}
    receiver.plan = [
        (200, {}),  # the webhook
        (200, {"Content-Type": "application/json"}, json.dumps(ticket).encode()),
        (200, {}),  # the upload
        (200, {"Content-Type": "application/json"}, b'{"ok": true}'),
    ]
    notifier = SlackNotifier(
        f"{base}/hooks/T1", bot_token="xoxb-1", channel="C1", api_base_url=f"{base}/api"
    )
    notifier.send(_prepared(log_file))
    paths = [request["path"] for request in receiver.requests]
    assert paths == [
        "/hooks/T1",
        "/api/files.getUploadURLExternal",
        "/upload/F1",
        "/api/files.completeUploadExternal",
    ]
    assert gzip.decompress(receiver.requests[2]["body"]).decode() == LOG_TEXT  # type: ignore[arg-type]
    complete = json.loads(receiver.requests[3]["body"])  # type: ignore[arg-type]
    assert complete == {
        "files": [{"id": "F1", "title": "import.log.gz"}],
        "channel_id": "C1",
        "initial_comment": "nightly-import failed",
    }
    headers: dict[str, str] = receiver.requests[1]["headers"]  # type: ignore[assignment]
    assert headers["Authorization"] == "Bearer xoxb-1"


# -- webhook -----------------------------------------------------------------------------------
def test_webhook_json_is_signed(receiver: Receiver, log_file: Path) -> None:
    notifier = WebhookNotifier(receiver.url, headers={"X-Team": "ops"}, secret="s3cret")
    notifier.send(_prepared(log_file))
    [request] = receiver.requests
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    body: bytes = request["body"]  # type: ignore[assignment]
    expected = hmac.new(
        b"s3cret", headers["X-Lookout-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Lookout-Signature"] == f"sha256={expected}"
    assert headers["X-Team"] == "ops"
    payload = json.loads(body)
    assert (payload["subject"], payload["severity"]) == ("nightly-import failed", "error")
    [attachment] = payload["attachments"]
    assert gzip.decompress(base64.b64decode(attachment["content_base64"])).decode() == LOG_TEXT


# -- delivery across notifiers ------------------------------------------------------------------
def test_one_failing_notifier_never_stops_the_others(receiver: Receiver, tmp_path: Path) -> None:
    receiver.plan = [(503, {"Retry-After": "0"}), (200, {})]
    stream = io.StringIO()
    down = WebhookNotifier("http://127.0.0.1:1/hook", timeout=0.5)
    sleeps: list[float] = []
    notifications = Notifications(
        [down, WebhookNotifier(receiver.url), ConsoleNotifier(stream)], sleep=sleeps.append
    )
    outcome = notifications.send(
        Message("disk full", "/var is at 99%", attachments=[tmp_path / "missing.log"])
    )
    assert outcome["webhook"] is not None and "ConnectionError" in outcome["webhook"]
    assert (outcome["webhook#2"], outcome["console"]) == (None, None)
    stats = notifications.stats()
    assert (stats["webhook"]["failed"], stats["webhook"]["retried"]) == (1, 3)
    assert (stats["webhook#2"]["sent"], stats["webhook#2"]["retried"]) == (1, 1)
    assert len(sleeps) == 4
    printed = stream.getvalue()
    assert "[INFO] disk full" in printed and "/var is at 99%" in printed
    assert "missing.log' could not be read" in printed  # a missing file is reported, not raised


def test_a_notifier_that_times_out_is_retried_then_counted(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    try:
        lk = Lookout(store=None, notifiers=[WebhookNotifier(url, timeout=0.2)])
        lk.notifications.retry = RetryPolicy(max_retries=1, backoff=0.01, max_backoff=0.01)
        outcome = lk.notify("ping", "body")
        lk.close()
    finally:
        listener.close()
    assert outcome["webhook"] is not None and "Timeout" in outcome["webhook"]
    assert lk.stats()["notifiers"]["webhook"] == {
        "sent": 0,
        "failed": 1,
        "retried": 1,
        "last_error": outcome["webhook"],
    }


def test_attachments_over_the_cap_are_left_out_with_a_note(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(256 * 1024))  # random bytes: gzip cannot shrink them
    small = tmp_path / "small.log"
    small.write_text("ok\n")
    already = tmp_path / "old.log.gz"
    already.write_bytes(gzip.compress(b"old log"))
    prepared = PreparedMessage.from_message(
        Message("s", "b", attachments=[small, big, already], max_attachment_bytes=64 * 1024)
    )
    names = [attachment.filename for attachment in prepared.attachments]
    assert names == ["small.log.gz", "old.log.gz"]  # already compressed: sent as it is
    assert prepared.attachments[1].content == already.read_bytes()
    assert len(prepared.notes) == 1 and "'big.bin' left out" in prepared.notes[0]
    assert "Note: attachment 'big.bin' left out" in prepared.body
