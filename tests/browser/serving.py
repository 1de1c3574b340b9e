"""A Flask app served over real HTTP on 127.0.0.1 for a browser test, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def demo_dashboard(store_url: str) -> Iterator[str]:
    """A dashboard without login over ``store_url`` (filled by the caller, e.g. with
    lookout.demo_data), served until the block ends; yields its base URL."""
    from lookout.dashboard.blueprint import DashboardOptions, create_blueprint
    from lookout.store import SqlStore

    store = SqlStore(store_url)
    app = Flask("demo-dashboard")
    app.register_blueprint(
        create_blueprint(lambda: store, DashboardOptions(auth=False)), url_prefix="/dashboard"
    )
    try:
        with serving(app) as site:
            yield site
    finally:
        store.close()


def new_tab(browser: Any, width: int, dark: bool = False) -> tuple[Any, Any, list[str]]:
    """A page at ``width`` px in the light or dark scheme (UTC), and the console and page
    errors it collects."""
    context = browser.new_context(
        viewport={"width": width, "height": 900},
        color_scheme="dark" if dark else "light",
        timezone_id="UTC",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors
