"""The request explorer in headless Chromium: a filter applied and kept in the URL, an export
downloaded and parsed, an event opened whole; screenshots at 1400 and 390 px, light and dark."""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lookout import make_event
from lookout.dashboard.blueprint import DashboardOptions, create_blueprint
from lookout.sinks.sql import SqlSink
from tests.browser.serving import serving
from tests.browser.test_dashboard_browser import browser, screenshots  # noqa: F401 (fixtures)

NS = 1_000_000_000
ORIGINS = [("web-1", "2.3.0"), ("web-2", "2.3.0"), ("web-2", "2.4.0"), ("worker-1", "2.4.0")]


@pytest.fixture(scope="module")
def explorer_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("explorer")
    sink = SqlSink(f"sqlite:///{folder / 'store.db'}")
    rng = random.Random(11)
    now_ns = time.time_ns()
    batch = []
    for n in range(3000):
        host, version = rng.choice(ORIGINS)
        path = rng.choice(["/products/12", "/checkout", "/cart", "/search?q=lamp"])
        failed = path == "/checkout" and rng.random() < 0.15
        try:
            if failed:
                raise RuntimeError(f"payment declined for order {n}")
        except RuntimeError as error:
            caught: BaseException | None = error
        else:
            caught = None
        event = make_event(
            "request",
            path.split("?")[0].replace("/12", "/<id>"),
            start_ns=now_ns - (3000 - n) * NS,
            duration_ns=int(rng.lognormvariate(16, 0.8)),
            status=500 if failed else rng.choice([200, 200, 200, 404]),
            error=caught,
            app_version=version,
            request_id=f"{n:08x}-req",
            group=f"user-{n % 9}",
            fields={"method": "POST" if path == "/checkout" else "GET", "path": path},
        )
        batch.append(event._replace(host=host))
    sink.write(batch)
    app = Flask("explorer-site")
    store = sink.store
    app.register_blueprint(
        create_blueprint(lambda: store, DashboardOptions(auth=False)), url_prefix="/dashboard"
    )
    with serving(app) as site:
        yield site
    sink.close()


def _tab(browser: Any, width: int) -> tuple[Any, Any, list[str]]:  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def test_explorer_filters_exports_and_opens_an_event(
    browser: Any,  # noqa: F811
    explorer_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    context, page, errors = _tab(browser, 1400)
    page.goto(f"{explorer_site}/dashboard/explorer?status=5xx")
    page.wait_for_selector("#explorer tbody tr td a")
    statuses = set(page.locator("#explorer tbody tr td:nth-child(6)").all_text_contents())
    assert statuses == {"500"}
    page.select_option("select[name=host]", "web-2")
    page.click("#explorer-filters button[type=submit]")
    page.wait_for_url("**host=web-2**")
    for _ in range(100):  # the table follows the new filter (no page script may be eval'd: CSP)
        if set(page.locator("#explorer tbody tr td:nth-child(8)").all_text_contents()) == {"web-2"}:
            break
        page.wait_for_timeout(100)
    assert "status=5xx" in page.url and "host=web-2" in page.url
    hosts = set(page.locator("#explorer tbody tr td:nth-child(8)").all_text_contents())
    assert hosts == {"web-2"}
    shown = set(page.locator("#explorer tbody tr td:nth-child(11)").all_text_contents())
    page.screenshot(path=str(screenshots / "explorer.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#export-csv")
    text = Path(download.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert (
        rows and {r["host"] for r in rows} == {"web-2"} and {r["status"] for r in rows} == {"500"}
    )
    assert shown <= {r["request_id"] for r in rows}  # the page's rows among the exported

    page.click("#explorer tbody tr td a >> nth=0")
    page.wait_for_selector("#event-summary tbody tr")
    assert "payment declined" in page.locator("#event-traceback").inner_text()
    assert "web-2" in page.locator("#event-summary").inner_text()
    page.screenshot(path=str(screenshots / "event.png"), full_page=True)
    page.evaluate("localStorage.setItem('lookout-theme', 'dark')")
    page.goto(f"{explorer_site}/dashboard/explorer?outcome=error")
    page.wait_for_selector("#explorer tbody tr td a")
    page.screenshot(path=str(screenshots / "explorer-dark.png"), full_page=True)
    assert errors == []
    context.close()


def test_explorer_at_phone_width(
    browser: Any,  # noqa: F811
    explorer_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    context, page, errors = _tab(browser, 390)
    for theme in ("light", "dark"):
        page.goto(f"{explorer_site}/dashboard/explorer")
        page.evaluate(f"localStorage.setItem('lookout-theme', '{theme}')")
        page.goto(f"{explorer_site}/dashboard/explorer?version=2.4.0")
        page.wait_for_selector("#explorer tbody tr td a")
        versions = set(page.locator("#explorer tbody tr td:nth-child(9)").all_text_contents())
        assert versions == {"2.4.0"}
        # the table scrolls inside its wrapper; the page itself does not widen
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, width
        page.screenshot(path=str(screenshots / f"explorer-390-{theme}.png"), full_page=True)
    assert errors == []
    context.close()
