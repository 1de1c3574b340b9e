"""function-ext-monitor's README example, moved to Lookout by changing one import.

Run it::

    pip install 'lookout[http]'
    python examples/migrating/function_ext_monitor.py                 # prints what it sends
    python examples/migrating/function_ext_monitor.py https://your.endpoint/reports

Without an endpoint, a small HTTP server on 127.0.0.1 stands in for yours and prints each
report it receives, so the example runs on its own.
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# before: from function_ext_monitor import external_function_monitor
from lookout.compat.function_ext_monitor import external_function_monitor, flush


class PrintingEndpoint(BaseHTTPRequestHandler):
    """Prints each report, as the endpoint you point the decorator at would store it."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print(f"received ({self.headers['Authorization']}): {json.loads(body)}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def local_endpoint() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PrintingEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/reports"


REPORT_URL = sys.argv[1] if len(sys.argv) > 1 else local_endpoint()

# the README's EXTRA_DATA_TO_SEND, as it is written there
EXTRA_DATA_TO_SEND = {
    # maybe how often do you expect this function to be called
    "interval_in_seconds": 7,
    # maybe who wrote it
    "author": "John Doe",
    # even functions can be added to dynamically generate values when the function is called
    "timestamp": lambda _: datetime.datetime.now(),
    "headers": {
        # Any custom headers. Again, feel free to pass in a function
        "Authorization": "Bearer your-auth-token",
    },
}


@external_function_monitor(REPORT_URL, **EXTRA_DATA_TO_SEND)
def simple_addition(first_number: int, second_number: int) -> int:
    """This function adds the first_number to the second_number and returns the sum."""
    return first_number + second_number


if __name__ == "__main__":
    for first, second in ((1, 2), (40, 2), (-5, 5)):
        print(f"simple_addition({first}, {second}) = {simple_addition(first, second)}")
    # the reports are posted by a background worker: wait for them before a short script exits
    # (Lookout also flushes at exit)
    print("all reports sent" if flush() else "some reports are still queued", flush=True)
