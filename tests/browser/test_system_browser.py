"""The System page shows each sink's disk spool: an HTTP sink whose endpoint is down spools
its events, and the page says how many and how big, beside the store's own (empty) spool."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lookout import Lookout
from lookout.flask import LookoutFlask
from tests.browser.serving import serving
from tests.browser.test_dashboard_browser import ADMIN_PASSWORD, Tab, browser, screenshots
from tests.faults.postgres import _free_port

__all__ = ["browser", "screenshots"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Lookout]]:
    dead = f"http://127.0.0.1:{_free_port()}/ingest"  # nothing listens: connection refused
    lk = Lookout(
        store=f"sqlite:///{tmp_path / 'store.db'}",
        sinks=[{"type": "http", "url": dead, "spool": True, "timeout": 0.5}],
        spool_dir=str(tmp_path / "spool"),
        batch_interval=0.05,
        max_retries=0,
    )
    app = Flask("system-shop")
    LookoutFlask(app, lk, dashboard_admin_password=ADMIN_PASSWORD)

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    client = app.test_client()
    for _ in range(40):
        client.get("/hello")
    deadline = time.monotonic() + 20
    while lk.stats()["sinks"]["http"]["spool"]["depth"] < 40:
        assert time.monotonic() < deadline, lk.stats()["sinks"]["http"]
        time.sleep(0.05)
    with serving(app) as url:
        yield url, lk
    lk.close(1)


def test_the_spool_of_a_dead_sink_is_on_the_system_page(
    browser: Any, site: tuple[str, Lookout], screenshots: Path
) -> None:
    url, lk = site
    tab = Tab(browser, url, "admin", ADMIN_PASSWORD)
    page = tab.page
    page.goto(f"{url}/dashboard/system")
    page.wait_for_selector("#sinks tbody tr")
    headers = page.locator("#sinks thead th").all_text_contents()
    rows = {
        cells[0]: dict(zip(headers, cells, strict=True))
        for cells in (
            row.locator("td").all_text_contents() for row in page.locator("#sinks tbody tr").all()
        )
    }
    spooled = lk.stats()["sinks"]["http"]["spool"]["depth"]
    assert int(rows["http"]["Spooled"].replace(",", "")) >= 40 and spooled >= 40
    assert rows["http"]["Spool size"].endswith("MB")
    assert rows["http"]["Spool overflow"] == "0" and rows["http"]["Invalid"] == "0"
    assert rows["sql"]["Spooled"] == "0"  # the store answers: its spool stays empty
    # at phone width, dark: the sinks table scrolls in its own box, the page does not widen
    page.set_viewport_size({"width": 390, "height": 900})
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(screenshots / "system-390-dark.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    assert tab.errors == []
    tab.close()
