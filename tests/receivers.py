"""Real servers on 127.0.0.1 that record what they receive: an HTTP server standing in for
services that cannot run here (an ingest endpoint, InfluxDB 2.x, Slack, SendGrid), and the
mailbox of an SMTP server (aiosmtpd)."""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records every request; answers with the planned (status, headers[, body]), then 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.plan: list[tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "at": time.monotonic(),
                    }
                )
                status, headers, *rest = receiver.plan.pop(0) if receiver.plan else (200, {})
                answer = rest[0] if rest else b"ok"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if status == 204:  # No Content: no body, no length
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_PUT = do_POST

            def do_HEAD(self) -> None:
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ingest"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """aiosmtpd handler keeping every message: (sender, recipients, raw bytes)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"
