"""HTTP endpoints that misbehave on purpose, on 127.0.0.1: one that validates what it is sent
(refusing a body with an event it cannot take, as a collector with a schema does), one that
answers 503 until told otherwise, one that hangs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Endpoint:
    """Stores the documents of every accepted body; ``mode`` decides the answer:
    ``"ok"``, ``"down"`` (503) or ``"hang"`` (no answer until ``release`` is set). A body with a
    document whose fields say ``poison`` is refused with 400, as a real schema check would."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self.mode = "ok"
        self.requests = 0
        self.release = threading.Event()
        endpoint = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint.requests += 1
                if endpoint.mode == "hang":  # stuck before reading: nothing of it is kept
                    endpoint.release.wait(60)
                    self.close_connection = True
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 503 if endpoint.mode == "down" else 200
                if status == 200:
                    documents = json.loads(body)
                    if any(doc.get("fields", {}).get("poison") for doc in documents):
                        status = 400
                    else:
                        with lock:
                            endpoint.documents.extend(documents)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ingest"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seqs(self) -> list[int]:
        return [doc["fields"]["seq"] for doc in self.documents]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
