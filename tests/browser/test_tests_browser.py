"""The Tests page in headless Chromium over the demo's week of history (lookout.demo_data:
its test runs recorded as the plugin records them): version 1.2's slower search test shown with
its p-value, a test's history per version, the flaky checkout test's traceback opened, endpoint
latency beside production, the branch filter kept in the URL, no console errors; screenshots
at 1400 and 390 px, light and dark."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lookout.dashboard.blueprint import DashboardOptions, create_blueprint
from lookout.demo_data import generate
from lookout.store.engine import SqlStore
from tests.browser.serving import serving
from tests.browser.test_dashboard_browser import browser, screenshots  # noqa: F401 (fixtures)
from tests.browser.test_explorer_browser import _tab as explorer_tab

SEARCH_TEST = "tests/test_search.py::test_search_ranks_by_name"


@pytest.fixture(scope="module")
def tests_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('tests-page') / 'store.db'}"
    generate(url, requests_per_hour=60, now_s=int(time.time()))
    store = SqlStore(url)
    app = Flask("tests-site")
    app.register_blueprint(
        create_blueprint(lambda: store, DashboardOptions(auth=False)), url_prefix="/dashboard"
    )
    with serving(app) as site:
        yield site
    store.close()


def _tab(browser: Any, width: int) -> tuple[Any, Any, list[str]]:  # noqa: F811
    """The explorer test's tab (console and page errors kept), and failed requests too."""
    context, page, errors = explorer_tab(browser, width)
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    return context, page, errors


def _loaded(page: Any) -> None:
    for selector in (
        "#changes tbody tr",
        "#slowest tbody tr",
        "#endpoints tbody tr",
        "#tests tbody tr",
    ):
        page.wait_for_selector(selector)
    page.wait_for_selector("#runs-chart .main-svg")
    page.wait_for_selector("#history-chart .main-svg")
    page.wait_for_selector("#endpoints-chart .main-svg")


def test_the_tests_page_shows_what_the_runs_hold(
    browser: Any,  # noqa: F811
    tests_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    context, page, errors = _tab(browser, 1400)
    page.goto(f"{tests_site}/dashboard/tests?base=1.1&head=1.2")
    _loaded(page)
    assert page.locator("select[name=base]").input_value() == "1.1"
    [row] = page.locator("#changes tbody tr").all()  # only the slowed test changed
    cells = row.locator("td").all_text_contents()
    assert cells[0] == "slower" and cells[1] == SEARCH_TEST
    assert cells[4].startswith("+") and cells[5] == "< 0.001"  # p of 1.2's 60 % slowdown
    assert "1 slower" in page.locator("#changes-summary").inner_text()
    slowest = page.locator("#slowest tbody tr td:first-child").all_text_contents()
    assert slowest[0] == "tests/test_export.py::test_export_csv" and SEARCH_TEST in slowest
    endpoints = page.locator("#endpoints tbody tr").all()
    search = [r.locator("td").all_text_contents() for r in endpoints]
    search = [cells for cells in search if cells[0] == "GET search"]
    assert {cells[1] for cells in search} >= {"1.1", "1.2"}
    assert all(int(cells[6].replace(",", "")) > 0 for cells in search)  # production requests
    every = page.locator("#tests tbody tr td:first-child").all_text_contents()
    assert every[0] == "tests/test_export.py::test_export_csv" and len(every) == 10

    page.locator("#slowest tbody tr a", has_text=SEARCH_TEST).click()
    page.wait_for_url("**test=tests%2Ftest_search.py**")
    assert page.locator("#history-name").input_value() == SEARCH_TEST
    for _ in range(50):
        if "1.2:" in page.locator("#history-note").inner_text():
            break
        page.wait_for_timeout(100)
    note = page.locator("#history-note").inner_text()
    assert "1.0:" in note and "1.2:" in note
    page.screenshot(path=str(screenshots / "tests.png"), full_page=True)

    flaky = page.locator("#flaky tbody tr td:first-child a").all_text_contents()
    assert set(flaky) == {"tests/test_checkout.py::test_checkout_declined"}
    page.locator("#flaky tbody tr td:first-child a").first.click()
    page.wait_for_selector("#failure-detail:not([hidden])")
    assert "AssertionError: expected status 402" in page.locator("#failure-traceback").inner_text()
    assert "payment gateway timed out" in page.locator("#failure-message").inner_text()

    page.select_option("select[name=branch]", "feature/faster-search")
    page.wait_for_url("**branch=feature%2Ffaster-search**")
    for _ in range(50):
        if page.locator("select[name=head]").input_value() != "1.2":
            break
        page.wait_for_timeout(100)
    traces = page.locator("#runs-chart .scatterlayer .trace").count()
    assert traces == 1  # one branch's runs only

    page.evaluate("localStorage.setItem('lookout-theme', 'dark')")
    page.goto(f"{tests_site}/dashboard/tests?base=1.1&head=1.2")
    _loaded(page)
    page.screenshot(path=str(screenshots / "tests-dark.png"), full_page=True)
    assert errors == []
    context.close()


def test_the_tests_page_at_phone_width(
    browser: Any,  # noqa: F811
    tests_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    context, page, errors = _tab(browser, 390)
    for theme in ("light", "dark"):
        page.goto(f"{tests_site}/dashboard/tests")
        page.evaluate(f"localStorage.setItem('lookout-theme', '{theme}')")
        page.goto(f"{tests_site}/dashboard/tests")
        _loaded(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, width  # the tables scroll in their own boxes
        page.screenshot(path=str(screenshots / f"tests-390-{theme}.png"), full_page=True)
    assert errors == []
    context.close()


def test_every_test_is_listed_without_dashboard_js_s_tests_page(
    browser: Any,  # noqa: F811
    tests_site: str,
) -> None:
    """tests.js fills "Every test" itself when dashboard.js has no testsPage (its owner may
    drop it): served here with that function renamed away."""
    context, page, errors = _tab(browser, 1400)

    def without_tests_page(route: Any) -> None:
        response = route.fetch()
        script = response.text().replace("async function testsPage(", "async function dropped(")
        route.fulfill(response=response, body=script.replace("tests: testsPage, ", ""))

    page.route("**/static/dashboard.js", without_tests_page)
    page.goto(f"{tests_site}/dashboard/tests")
    _loaded(page)
    every = page.locator("#tests tbody tr td:first-child").all_text_contents()
    assert every[0] == "tests/test_export.py::test_export_csv" and len(every) == 10
    assert errors == []
    context.close()
