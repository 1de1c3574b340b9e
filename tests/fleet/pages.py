"""The fleet's dashboard as a person sees it: its pages in headless Chromium (Playwright, as
tests/browser does), with both hosts on them and no console errors."""

from __future__ import annotations

from typing import Any


def check_pages(browser: Any, site: str, requests: dict[str, int]) -> None:
    """The overview's host filter offers every host and the overview lists the endpoint; the
    endpoint's page counts each host's requests in its Per host table."""
    from playwright.sync_api import expect  # the browser fixture skips when it is missing

    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    try:
        page.goto(f"{site}/dashboard/")
        for host in requests:  # the filter's options come from the API after the page loads
            option = page.locator(f"#filters select[name=host] option[value='{host}']")
            expect(option).to_have_count(1, timeout=20_000)
        expect(page.get_by_role("link", name="work", exact=True)).to_be_visible(timeout=20_000)
        page.goto(f"{site}/dashboard/detail/request/work")
        page.get_by_role("tab", name="Versions and hosts").click()
        rows = page.locator("#hosts tbody tr")
        expect(rows).to_have_count(len(requests), timeout=20_000)
        expect(rows.first).not_to_contain_text("Nothing", timeout=20_000)
        table = [line.split("\t")[:2] for line in rows.all_inner_texts()]
        shown = {host: int(count.replace(",", "")) for host, count in table}
        assert shown == requests, table
        assert errors == [], errors
    finally:
        context.close()
