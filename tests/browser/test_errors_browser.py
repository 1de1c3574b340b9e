"""The Errors page in headless Chromium over the demo's week of data (lookout.demo_data):
groups listed with real counts, a filter applied and kept in the URL and carried to a group's
page, the group's traceback with the application's frames marked, its charts and occurrences;
no console errors; screenshots at 1400 and 390 px, light and dark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookout.demo_data import generate
from tests.browser.serving import demo_dashboard, new_tab
from tests.browser.test_dashboard_browser import browser, screenshots  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def errors_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('errors') / 'store.db'}"
    generate(url, days=7, requests_per_hour=300)
    with demo_dashboard(url) as site:
        yield site


def _wait_for(page: Any, check: Any) -> None:
    for _ in range(100):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError("the page did not follow")


def test_errors_list_filter_and_group_page(
    browser: Any,  # noqa: F811
    errors_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    context, page, errors = new_tab(browser, 1400)
    page.goto(f"{errors_site}/dashboard/errors?range=7d")
    page.wait_for_selector("#errors tbody tr td a")
    types = page.locator("#errors tbody tr td:nth-child(1) .error-type").all_text_contents()
    assert "builtins.KeyError" in types and "HTTP 503" in types  # the demo's type names
    assert "shop.payments.PaymentDeclined" in types
    counts = [
        int(c.replace(",", "")) for c in page.locator("#errors td:nth-child(3)").all_text_contents()
    ]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    assert page.locator("#errors svg.spark").count() == len(types)
    assert page.locator("nav a[aria-current=page]").inner_text() == "Errors"
    page.screenshot(path=str(screenshots / "errors.png"), full_page=True)

    page.select_option("select[name=version]", "1.1")
    page.click("#errors-filters button[type=submit]")
    page.wait_for_url("**version=1.1**")
    _wait_for(page, lambda: "1.1" in page.url and page.locator("#errors tbody tr").count() > 0)
    key_errors = page.locator(
        "#errors tbody tr", has=page.locator(".error-type", has_text="KeyError")
    )
    _wait_for(page, lambda: key_errors.count() == 1)
    key_errors.locator("td a").first.click()
    page.wait_for_url("**/errors/*?*version=1.1*")
    page.wait_for_selector("#group-traceback .app")
    assert "KeyError in " in page.locator("#group-title").inner_text()
    app_lines = page.locator("#group-traceback .app").all_text_contents()
    assert any("/srv/shop/" in line for line in app_lines)
    assert not any("site-packages" in line for line in app_lines)
    assert page.locator("#group-traceback .lib").count() > 0  # Flask's frames, not marked
    context_text = page.locator("#group-context").inner_text()
    assert "Request id" in context_text and "Version\t1.1" in context_text
    page.wait_for_selector("#group-time .main-svg")
    page.wait_for_selector("#group-versions .main-svg")
    versions = page.locator("#group-versions .xtick").all_text_contents()
    assert versions == ["1.1"]  # the version filter applies to the group's charts
    assert page.locator("#group-occurrences tbody tr").count() <= 10  # paged, 10 a page
    pager = page.locator("nav.pager[data-for='group-occurrences']")
    if pager.locator("button").count():
        pager.locator("button:has-text('Next')").click()
        assert pager.locator("span").inner_text().startswith("11\u2013")
        pager.locator("button:has-text('Previous')").click()
    first = page.locator("#group-occurrences tbody tr td a").first
    href = first.get_attribute("href")
    assert href is not None and "/explorer/event/" in href
    page.screenshot(path=str(screenshots / "error_group.png"), full_page=True)
    first.click()
    page.wait_for_selector("#event-summary tbody tr")
    assert "KeyError" in page.locator("#event-traceback").inner_text()
    assert errors == []
    context.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_errors_pages_dark_and_narrow(
    browser: Any,  # noqa: F811
    errors_site: str,
    screenshots: Path,  # noqa: F811
    width: int,
) -> None:
    context, page, errors = new_tab(browser, width, dark=True)
    page.goto(f"{errors_site}/dashboard/errors?range=7d&sort=last_seen")
    page.wait_for_selector("#errors tbody tr td a")
    link = page.locator("#errors tbody tr td a").first
    colour = link.evaluate("node => getComputedStyle(node).color")
    background = page.locator("body").evaluate("node => getComputedStyle(node).backgroundColor")
    assert background not in (colour, "rgb(255, 255, 255)")
    suffix = "" if width == 1400 else "-390"
    # the table scrolls in its own box: the page itself is no wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.screenshot(path=str(screenshots / f"errors-dark{suffix}.png"), full_page=True)
    link.click()
    page.wait_for_selector("#group-traceback span")
    page.wait_for_selector("#group-time .main-svg")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.screenshot(path=str(screenshots / f"error_group-dark{suffix}.png"), full_page=True)
    assert errors == []
    context.close()
