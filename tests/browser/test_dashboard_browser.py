"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
against a real server on 127.0.0.1: log in, pages render with charts and no console errors,
an admin changes a monitoring level, a guest cannot.

With ``LOOKOUT_UPDATE_SCREENSHOTS=1`` the screenshots are written to docs/screenshots/ (the
ones in the README and docs come from here); otherwise to a temporary folder.
"""

from __future__ import annotations

import itertools
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
    page.wait_for_selector("#chart-traffic .main-svg")
    assert page.locator("#tiles [data-tile=requests] .value").inner_text() == "150"

    page.click("#overview a:text-is('checkout')")
    page.wait_for_selector("#chart-traffic .main-svg")
    page.wait_for_selector("#chart-heatmap .main-svg")
    page.click("[role=tab][data-tab=versions]")
    page.wait_for_selector("#chart-versions .main-svg")
    page.click("[role=tab][data-tab=statuses]")
    page.wait_for_selector("#statuses tbody tr")
    statuses = page.locator("#statuses tbody tr td:first-child").all_text_contents()
    assert "500" in statuses and "200" in statuses
    page.click("[role=tab][data-tab=users]")
    page.wait_for_selector("#groups tbody tr")
    assert "user-1" in page.locator("#groups tbody").inner_text()
    page.click("[role=tab][data-tab=tracked]")
    page.wait_for_selector("#tracked thead th")
    assert "basket" in page.locator("#tracked thead").inner_text()

    for path, selector, shot in (
        ("jobs", "#jobs tbody tr", None),  # the docs' come from the week below
        ("metrics", "#metrics .main-svg", None),
        ("system", "#sinks tbody tr", "system.png"),
    ):
        page.goto(f"{site}/dashboard/{path}")
        page.wait_for_selector(selector)
        if shot:
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


# -- a week of the demo shop's history: the pages as a user sees them -----------------------------
SIZES = {"1400": {"width": 1400, "height": 900}, "390": {"width": 390, "height": 844}}
#: Runs in the page: the WCAG contrast ratio of every visible link against the background
#: behind it (the first ancestor with an opaque background colour).
CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (node) => { for (; node; node = node.parentElement) { const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || c[3] > 0.5) return c.slice(0, 3); } return [255, 255, 255]; };
  return [...document.querySelectorAll("a")].filter((a) => a.getClientRects().length).map((a) => {
    const [x, y] = [lum(rgb(getComputedStyle(a).color)), lum(background(a))];
    return { text: a.textContent.trim().slice(0, 40), ratio: (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05) };
  });
}"""
#: Boxes of fixed or sticky elements and of the footer, and of the content they could cover.
OVERLAPS = """() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height }; };
  const floating = [...document.querySelectorAll("body *")].filter((e) => ["fixed", "sticky"].includes(getComputedStyle(e).position) && e.getClientRects().length);
  const covers = [...floating, ...document.querySelectorAll("footer")].map((e) => ({ what: e.tagName + "#" + e.id, ...box(e) }));
  const content = [...document.querySelectorAll("main table, main .chart, main .tile, main h1, main h2")]
    .filter((e) => e.getClientRects().length).map((e) => ({ what: e.tagName + "#" + e.id, ...box(e) }));
  const hit = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const wide = [...document.querySelectorAll("main *")].filter((e) => e.getClientRects().length && !e.closest(".table-wrap") && e.getBoundingClientRect().right > innerWidth + 1).map((e) => e.tagName + "#" + e.id);
  return { overlaps: covers.flatMap((c) => content.filter((t) => hit(c, t)).map((t) => c.what + " over " + t.what)), floating: floating.length, wide };
}"""


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard alone over a week of the demo shop (lookout.demo_data), on 127.0.0.1."""
    from lookout.dashboard import create_app
    from lookout.demo_data import generate

    url = f"sqlite:///{tmp_path_factory.mktemp('week') / 'store.db'}"
    generate(url, requests_per_hour=160, now_s=int(time.time()))
    with serving(create_app(url, admin_password=ADMIN_PASSWORD)) as address:
        yield address


class WeekTab(Tab):
    """A logged-in page over the week, at a size and in a colour scheme, that also records
    CSP violations reported to the page."""

    def __init__(self, browser: Any, site: str, size: str = "1400", dark: bool = False) -> None:
        self.context = browser.new_context(
            viewport=SIZES[size], color_scheme="dark" if dark else "light"
        )
        self.context.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.errors.append(f"{r.status} {r.url}")
        )
        self.site = site
        self.page.goto(f"{site}/dashboard/login")
        self.page.fill("input[name=username]", "admin")
        self.page.fill("input[name=password]", ADMIN_PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_selector("#overview tbody tr a")

    def open(self, path: str, ready: str) -> None:
        self.page.goto(f"{self.site}/dashboard/{path}")
        self.page.wait_for_selector(ready)
        self.page.wait_for_timeout(300)  # Plotly's second layout pass (automargin)

    def clean(self) -> None:
        assert self.errors == []
        assert self.page.evaluate("window.__csp") == []


def test_the_overview_shows_the_week(browser: Any, week: str) -> None:
    tab = WeekTab(browser, week)
    page = tab.page
    page.wait_for_selector("#chart-latency .main-svg")
    api = tab.context.request.get(f"{week}/dashboard/api/overview/tiles?range=24h").json()
    shown = page.locator("#tiles [data-tile=requests] .value").inner_text()
    assert (
        shown == f"{api['tiles']['requests']['value']:,}"
        and api["tiles"]["requests"]["value"] > 1000
    )
    assert (
        "vs previous 24 hours" in page.locator("#tiles [data-tile=requests] .change").inner_text()
    )
    # axis titles with units, and round tick values on the latency axis
    for title in ("time (UTC)", "requests per 10 min", "latency (ms)"):
        assert page.locator(f".main-svg text:text-is('{title}')").count() >= 1, title
    ticks = page.locator("#chart-latency .ytick text").all_text_contents()
    steps = {
        int(b.replace(",", "")) - int(a.replace(",", "")) for a, b in itertools.pairwise(ticks)
    }
    assert len(steps) == 1 and steps.pop() % 5 == 0, ticks
    names = page.locator("#overview tbody tr td:first-child").all_text_contents()
    assert {"search", "checkout", "shop.payments.charge"} <= set(names)
    assert not any(name.startswith("test:") or "::" in name for name in names)  # the Tests page's
    # every name links to its page
    assert page.locator("#overview tbody tr td:first-child a").count() == len(names)
    page.click("#overview th[data-key=p95_ms]")
    assert page.locator("#overview tbody tr td:first-child").first.inner_text() == "export_csv"
    tab.clean()
    tab.close()


def test_each_kind_of_page_shows_what_fits_it(browser: Any, week: str) -> None:
    tab = WeekTab(browser, week)
    page = tab.page
    page.click("#overview a:text-is('checkout')")
    page.wait_for_selector("#chart-traffic .main-svg")
    tabs = page.locator("[role=tab]").all_text_contents()
    assert "Status codes and clients" in tabs and "Errors" not in tabs
    page.click("[role=tab][data-tab=statuses]")
    page.wait_for_selector("#statuses tbody tr")
    assert "500" in page.locator("#statuses").inner_text()
    # a call: its errors and extra fields, no status codes or clients
    tab.open("detail/call/shop.payments.charge", "#chart-traffic .main-svg")
    tabs = page.locator("[role=tab]").all_text_contents()
    assert "Errors" in tabs and "Extra fields" in tabs and "Status codes and clients" not in tabs
    page.click("[role=tab][data-tab=errors]")
    page.wait_for_selector("#errors tbody tr td a")
    assert "PaymentDeclined" in page.locator("#errors tbody").inner_text()
    # a job: every run with outcome, exit code, duration and summary
    tab.open("detail/run/shop.nightly-export?range=7d#runs", "#runs tbody tr td a")
    runs = page.locator("#runs tbody tr").all_inner_texts()
    assert len(runs) == 7 and sum("orders exported" in run for run in runs) == 6
    assert any("TimeoutError" in run and "\t1\t" in run for run in runs)
    # a metric: its unit, never "(None)", on a time axis in hours
    tab.open("metrics", "#metrics .main-svg")
    titles = page.locator("#metrics h2").all_inner_texts()
    assert "CartSize Count" in titles and "OrderValue" in titles
    assert "None" not in page.locator("#metrics").inner_text()
    ticks = page.locator("#metrics .xtick text").all_text_contents()
    assert all(":" in tick and "." not in tick for tick in ticks), ticks
    tab.clean()
    tab.close()


def test_a_filter_is_kept_across_pages(browser: Any, week: str) -> None:
    tab = WeekTab(browser, week)
    page = tab.page
    page.wait_for_selector("#filters select[name=version] option[value='1.1']", state="attached")
    page.select_option("#filters select[name=range]", "7d")
    page.select_option("#filters select[name=version]", "1.1")
    page.wait_for_url("**version=1.1**")
    api = tab.context.request.get(
        f"{week}/dashboard/api/overview/tiles?range=7d&version=1.1"
    ).json()
    page.wait_for_function(
        "n => document.querySelector('#tiles [data-tile=requests] .value').textContent === n",
        arg=f"{api['tiles']['requests']['value']:,}",
    )
    for href in page.locator("header nav a").evaluate_all("as => as.map((a) => a.href)"):
        assert "version=1.1" in href and "range=7d" in href, href
    page.click("#overview a:text-is('search')")
    page.wait_for_selector("#chart-traffic .main-svg")
    assert "version=1.1" in page.url and "range=7d" in page.url
    assert page.locator("#filters select[name=version]").input_value() == "1.1"
    one = tab.context.request.get(
        f"{week}/dashboard/api/overview/names?range=7d&version=1.1&kind=request&name=search"
    ).json()["rows"][0]
    assert page.locator("#tiles [data-tile=count] .value").inner_text() == f"{one['count']:,}"
    page.click("header nav a:text-is('Jobs')")
    page.wait_for_selector("#jobs tbody tr a")
    assert "version=1.1" in page.url
    tab.clean()
    tab.close()


PAGES = {
    "overview": ("", "#chart-latency .main-svg"),
    "detail": ("detail/request/search", "#chart-latency .main-svg"),
    "jobs": ("jobs", "#jobs tbody tr a"),
    "metrics": ("metrics", "#metrics .main-svg"),
    "explorer": ("explorer", "#explorer tbody tr td a"),
}


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_reads_at_each_size_and_scheme(
    browser: Any, week: str, screenshots: Path, size: str, dark: bool
) -> None:
    """Links readable against their background (WCAG AA, 4.5:1), nothing fixed over the
    content, nothing wider than the screen but tables in their own scrolling box, no console
    error or CSP violation; the screenshots in docs/ come from here."""
    tab = WeekTab(browser, week, size, dark)
    for page_name, (path, ready) in PAGES.items():
        tab.open(path, ready)
        low = [link for link in tab.page.evaluate(CONTRAST) if link["ratio"] < 4.5]
        assert low == [], (page_name, low)
        found = tab.page.evaluate(OVERLAPS)
        assert found["overlaps"] == [] and found["wide"] == [], (page_name, found)
        if page_name == "explorer":
            continue  # its own test's screenshots are the docs'
        theme = "dark" if dark else "light"
        shot = (
            f"{page_name}-390-{theme}" if size == "390" else page_name + ("-dark" if dark else "")
        )
        tab.page.screenshot(path=str(screenshots / f"{shot}.png"), full_page=True)
        if page_name == "overview" and size == "1400" and not dark:  # the README's: first screen
            tab.page.screenshot(path=str(screenshots / "readme-overview.png"))
    tab.clean()
    tab.close()
