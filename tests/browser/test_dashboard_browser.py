"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
against a real server on 127.0.0.1: log in, pages render with charts and no console errors,
an admin changes a monitoring level, a guest cannot.

With ``LOOKOUT_UPDATE_SCREENSHOTS=1`` the screenshots are written to docs/screenshots/ (the
ones in the README and docs come from here); otherwise to a temporary folder.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g

from lookout import Lookout, make_event
from lookout.flask import LookoutFlask, add_metric
from tests.browser.serving import serving
from tests.conftest import _unavailable

ADMIN_PASSWORD = "browser-admin-pass"
GUEST_PASSWORD = "browser-guest-pass"
CHROMIUM = os.environ.get("LOOKOUT_CHROMIUM", "/usr/bin/chromium")
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Read at import: the tests' own fixtures clear LOOKOUT_* variables.
UPDATE_SCREENSHOTS = os.environ.get("LOOKOUT_UPDATE_SCREENSHOTS") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shop with its dashboard, served on 127.0.0.1, after some realistic traffic."""
    folder = tmp_path_factory.mktemp("browser")
    lk = Lookout(store=f"sqlite:///{folder / 'store.db'}", batch_interval=0.05, app_version="2.0")
    app = Flask("browser-shop")
    LookoutFlask(
        app,
        lk,
        track_g=["user", "basket"],
        group_by=lambda: g.get("user"),
        dashboard_admin_password=ADMIN_PASSWORD,
        dashboard_guest_passwords=[GUEST_PASSWORD],
        level_refresh_interval=0.2,
    )
    rng = random.Random(7)

    @app.get("/products/<int:product>")
    def product(product: int) -> str:
        g.user = f"user-{product % 5}"
        time.sleep(rng.uniform(0.0005, 0.004))
        return "product"

    @app.post("/checkout")
    def checkout() -> str:
        g.user, g.basket = "user-1", {"items": rng.randint(1, 5)}
        add_metric("BasketValue", rng.randint(5, 300), "Count")
        if rng.random() < 0.2:
            raise RuntimeError("payment declined")
        return "paid"

    client = app.test_client()
    for n in range(120):
        client.get(f"/products/{n % 12}")
        if n % 4 == 0:
            client.post("/checkout")
    lk.emit(
        make_event(
            "run",
            "nightly-import",
            duration_ns=12 * 10**9,
            fields={"schedule": "0 3 * * *", "summary": "1,204 rows imported"},
        )
    )
    app.extensions["lookout"].levels.refresh()
    assert lk.flush(20)
    with serving(app) as site:
        yield site
    lk.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable("Playwright (pip install '.[test]')", error)
    if shutil.which(CHROMIUM) is None:
        _unavailable("Chromium", FileNotFoundError(f"{CHROMIUM} (apt-get install chromium)"))
    manager = sync_playwright().start()
    try:
        launched = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as error:
        manager.stop()
        _unavailable("Chromium", error)
    yield launched
    launched.close()
    manager.stop()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    if UPDATE_SCREENSHOTS:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path


class Tab:
    """A logged-in page that remembers every console error and page error."""

    def __init__(self, browser: Any, site: str, user: str, password: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.errors.append(f"{r.status} {r.url}"),
        )
        self.site = site
        self.page.goto(f"{site}/dashboard/")
        assert "/dashboard/login" in self.page.url  # anonymous: only the login
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("#overview tbody tr a")

    def close(self) -> None:
        self.context.close()


def test_admin_sees_overview_and_detail_with_charts(
    browser: Any, site: str, screenshots: Path
) -> None:
    tab = Tab(browser, site, "admin", ADMIN_PASSWORD)
    page = tab.page
    names = page.locator("#overview tbody tr td:first-child").all_text_contents()
    assert {"product", "checkout"} <= set(names)
    assert page.locator("#overview svg.spark").count() >= 2
    page.screenshot(path=str(screenshots / "overview.png"), full_page=True)

    page.click("#overview a:text-is('checkout')")
    page.wait_for_selector("#chart-timeseries .main-svg")
    page.wait_for_selector("#chart-heatmap .main-svg")
    page.wait_for_selector("#chart-versions .main-svg")
    page.wait_for_selector("#statuses tbody tr")
    statuses = page.locator("#statuses tbody tr td:first-child").all_text_contents()
    assert "500" in statuses and "200" in statuses
    assert "user-1" in page.locator("#groups tbody").inner_text()
    assert "basket" in page.locator("#tracked thead").inner_text()
    page.screenshot(path=str(screenshots / "detail.png"), full_page=True)

    for path, selector, shot in (
        ("jobs", "#jobs tbody tr", "jobs.png"),
        ("metrics", "#metrics .main-svg", "metrics.png"),
        ("system", "#sinks tbody tr", "system.png"),
    ):
        page.goto(f"{site}/dashboard/{path}")
        page.wait_for_selector(selector)
        page.screenshot(path=str(screenshots / shot), full_page=True)
    # API calls with the page's cookies, not navigations (a JSON page makes Chromium ask the
    # app for /favicon.ico)
    assert "nightly-import" in tab.context.request.get(f"{site}/dashboard/api/jobs").text()
    assert tab.errors == []  # no console errors, no CSP violations
    tab.close()


def test_admin_changes_a_level_and_guest_cannot(browser: Any, site: str) -> None:
    admin = Tab(browser, site, "admin", ADMIN_PASSWORD)
    select = admin.page.locator("select[data-endpoint='product']")
    select.select_option("2")
    admin.page.wait_for_selector("#status:has-text('set to 2')")
    levels = admin.context.request.get(f"{site}/dashboard/api/levels").json()
    assert levels["apps"]["browser-shop"]["levels"]["product"] == 2
    assert admin.errors == []
    admin.close()

    guest = Tab(browser, site, "guest", GUEST_PASSWORD)
    assert guest.page.locator("select[data-endpoint]").count() == 0  # nothing to change
    guest.page.goto(f"{site}/dashboard/system")
    guest.page.wait_for_selector("#sinks tbody tr")
    assert guest.page.locator("#new-token").count() == 0
    answer = guest.page.evaluate(
        """async () => {
            const csrf = document.body.dataset.csrf;
            const r = await fetch('api/levels', {method: 'POST', headers: {
                'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                body: JSON.stringify({app: 'browser-shop', endpoint: 'product', level: 0})});
            return r.status;
        }"""
    )
    assert answer == 403
    guest.close()
