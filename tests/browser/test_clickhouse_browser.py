"""The dashboard over a ClickHouse store (the real 18.16 server) in headless Chromium: the
overview's tiles, charts and names, filtered by a host, a detail page's charts, the
Distributions page; no console errors, no failed API answer; screenshots."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")

from lookout.dashboard import create_app
from lookout.store.clickhouse.sink import ClickHouseSink
from tests.browser.serving import new_tab, serving
from tests.browser.test_dashboard_browser import browser, screenshots  # noqa: F401 (fixtures)
from tests.store.test_clickhouse_dashboard import _events

NS = 1_000_000_000


@pytest.fixture
def site(clickhouse_url: str) -> Iterator[str]:
    sink = ClickHouseSink(clickhouse_url)
    sink.write(_events(time.time_ns()))
    sink.close()
    with serving(create_app(clickhouse_url, auth=False)) as address:
        yield address


def _failed_answers(page: Any) -> list[str]:
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    return failed


@pytest.mark.parametrize(
    ("width", "dark"), [(1400, False), (1400, True), (390, False), (390, True)]
)
def test_overview_detail_and_distributions_on_clickhouse(
    browser: Any,  # noqa: F811
    site: str,
    screenshots: Path,  # noqa: F811
    width: int,
    dark: bool,
) -> None:
    suffix = ("" if width == 1400 else "-390") + ("-dark" if dark else "")
    context, page, errors = new_tab(browser, width, dark)
    failed = _failed_answers(page)
    page.goto(f"{site}/dashboard/?range=7d")
    page.wait_for_selector("#chart-latency .main-svg")
    page.wait_for_selector("#overview tbody tr a")
    assert page.locator("#tiles [data-tile=requests] .value").inner_text() == "4,000"
    names = page.locator("#overview tbody tr td:first-child").all_text_contents()
    assert {"checkout", "search", "report.build"} <= set(names)
    page.screenshot(path=str(screenshots / f"clickhouse-overview{suffix}.png"), full_page=True)
    page.goto(f"{site}/dashboard/?range=7d&host=web-1")
    page.wait_for_selector("#chart-latency .main-svg")
    page.wait_for_function(
        "document.querySelector('#tiles [data-tile=requests] .value')?.textContent === '2,000'"
    )
    page.goto(f"{site}/dashboard/detail/request/checkout?range=7d")
    page.wait_for_selector("#chart-traffic .main-svg")
    page.wait_for_selector("#chart-heatmap .main-svg")
    page.click("[role=tab][data-tab=versions]")
    page.wait_for_selector("#chart-versions .main-svg")
    page.click("[role=tab][data-tab=statuses]")
    page.wait_for_selector("#statuses tbody tr")
    assert "500" in page.locator("#statuses").inner_text()
    page.screenshot(path=str(screenshots / f"clickhouse-detail{suffix}.png"), full_page=True)
    page.goto(f"{site}/dashboard/distributions?range=7d")
    page.wait_for_selector("#chart-boxes .main-svg, .js-plotly-plot .main-svg")
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshots / f"clickhouse-distributions{suffix}.png"), full_page=True)
    assert errors == [] and failed == [], (errors, failed)
    context.close()
