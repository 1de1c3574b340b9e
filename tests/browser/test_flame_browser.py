"""The flame graph in headless Chromium, over profiles a real Flask app recorded at level 3:
rendered, searched, hovered, zoomed, per request from the event page, light and dark, at 1400
and 390 px, with no console errors and no CSP violations; screenshots into docs/screenshots/
(with LOOKOUT_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request

from lookout import Lookout
from lookout.flask import LookoutFlask
from tests.browser.serving import serving
from tests.browser.test_dashboard_browser import browser, screenshots  # noqa: F401 (fixtures)

HIGHLIGHT = {"light": "rgb(37, 99, 235)", "dark": "rgb(96, 165, 250)"}


def _burn(seconds: float) -> None:
    """CPU in bursts, with pauses that let the sampler in (it needs the GIL)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sum(range(3000))
        time.sleep(0.0005)


def tokenize(query: str) -> list[str]:
    _burn(0.015)
    return query.split("-")


def score(words: list[str]) -> float:
    _burn(0.012)
    return float(len(words))


def rank_results(query: str) -> list[float]:
    words = tokenize(query)
    return [score(words) for _ in range(2)]


def load_products() -> list[int]:
    time.sleep(0.008)  # the database
    return list(range(20))


def render_json(rows: list[Any]) -> str:
    _burn(0.003)
    return json.dumps(rows)


@pytest.fixture(scope="module")
def flame_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("flame")
    lk = Lookout(store=f"sqlite:///{folder / 'store.db'}", batch_interval=0.02, app_version="2.4")
    app = Flask("flame-shop")
    LookoutFlask(app, lk, sampler_interval=0.002, dashboard_auth=False)

    @app.get("/search")
    def search() -> str:
        products = load_products()
        ranked = rank_results(request.args.get("q", "lamp"))
        return render_json([products[:3], ranked])

    app.extensions["lookout"].set_level("search", 3)
    with serving(app) as url:
        for n in range(12):
            with urllib.request.urlopen(f"{url}/search?q=desk-lamp-{n}") as answer:
                assert answer.status == 200
        lk.flush(10)
        yield url
    lk.close()


def _tab(browser: Any, width: int, theme: str) -> tuple[Any, Any, list[str]]:  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_init_script(f"localStorage.setItem('lookout-theme', '{theme}')")
    page = context.new_page()
    errors: list[str] = []  # CSP violations are console errors too
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    return context, page, errors


def _slices(page: Any) -> list[dict[str, str]]:
    """Each drawn frame: its label and its fill colour."""
    found: list[dict[str, str]] = page.eval_on_selector_all(
        "#flame g.slice",
        """slices => slices.map(s => ({
            label: (s.querySelector('text') || {}).textContent || '',
            fill: getComputedStyle(s.querySelector('path.surface')).fill,
        }))""",
    )
    return found


def _contrast(one: str, other: str) -> float:
    """WCAG contrast ratio of two ``rgb(r, g, b)`` colours."""

    def luminance(color: str) -> float:
        channels = [int(c) / 255 for c in color[color.index("(") + 1 : -1].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#flame g.slice")
    page.wait_for_function("document.getElementById('flame').dataset.frames > 5")


def test_the_flame_graph_rendered_searched_hovered_and_zoomed(
    browser: Any,  # noqa: F811
    flame_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    context, page, errors = _tab(browser, 1400, "light")
    _open(page, f"{flame_site}/dashboard/profile/request/search?range=1h")
    labels = [s["label"] for s in _slices(page)]
    assert labels[0].startswith("search (all)")
    for name in ("search", "rank_results", "score", "tokenize", "load_products", "render_json"):
        assert name in labels, (name, labels)
    summary = page.locator("#flame-summary").inner_text()
    assert "12 profiled request(s)" in summary and "CPU" in summary

    # hover: function, file:line, total and self time, share, samples
    page.locator("#flame g.slice", has_text="score").first.hover()
    page.wait_for_selector("#flame .hoverlayer .hovertext")
    hover = page.locator("#flame .hoverlayer").text_content() or ""
    assert "score" in hover and "test_flame_browser.py:" in hover, hover
    assert "total" in hover and "self" in hover and "samples" in hover and "%" in hover
    assert "_burn(0.012)" in hover, hover  # the code of the line it spent its time at

    # search: the matching frames are highlighted, the others dimmed, the share is told
    page.fill("#flame-search", "tokenize")
    page.wait_for_function("document.getElementById('flame').dataset.matches === '1'")
    slices = _slices(page)
    marked = [s["label"] for s in slices if s["fill"] == HIGHLIGHT["light"]]
    assert marked == ["tokenize"], slices
    assert "1 frame(s) match" in page.locator("#flame-matches").inner_text()
    assert "q=tokenize" in page.url  # the search is kept in the URL
    page.screenshot(path=str(screenshots / "profile-search.png"), full_page=True)
    page.fill("#flame-search", "")
    page.wait_for_function("document.getElementById('flame').dataset.matches === '0'")

    # click to zoom into rank_results: its children fill the width; reset goes back
    page.locator("#flame g.slice", has_text="rank_results").first.click()
    page.wait_for_function("document.getElementById('flame').data[0].level !== ''")
    page.wait_for_timeout(900)  # Plotly's transition
    zoomed = [s["label"] for s in _slices(page)]
    assert "load_products" not in zoomed and "score" in zoomed, zoomed
    page.click("#flame-reset")
    page.wait_for_function("document.getElementById('flame').data[0].level === ''")
    page.wait_for_timeout(900)
    assert "load_products" in [s["label"] for s in _slices(page)]
    # a version: kept in the URL, the tree of that version's requests
    with page.expect_response(
        lambda r: "/api/profiles/" in r.url and "version=2.4" in r.url
    ) as got:
        page.select_option("#flame-version", "2.4")
    assert got.value.json()["requests"] == 12
    assert "version=2.4" in page.url
    # the busiest frames' table
    top = page.locator("#flame-top tbody tr").all_inner_texts()
    assert top[0].startswith("_burn") and any(row.startswith("score") for row in top), top
    assert any("_burn(0.012)" in row for row in top), top  # lines with their code
    page.screenshot(path=str(screenshots / "profile.png"), full_page=True)
    assert errors == []
    context.close()


def test_dark_mode_and_phone_width(
    browser: Any,  # noqa: F811
    flame_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    for width in (1400, 390):
        for theme in ("light", "dark"):
            context, page, errors = _tab(browser, width, theme)
            _open(page, f"{flame_site}/dashboard/profile/request/search")
            flame = page.locator("#flame")
            assert flame.get_attribute("data-theme") == theme
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            text = page.eval_on_selector("#flame g.slice text", "t => getComputedStyle(t).fill")
            link = page.eval_on_selector("main a", "a => getComputedStyle(a).color")
            if theme == "dark":
                assert background == "rgb(15, 23, 42)" and text == "rgb(248, 250, 252)"
                assert link == "rgb(147, 197, 253)"  # light blue on navy, not the browser's
            else:
                assert background == "rgb(255, 255, 255)" and text == "rgb(17, 24, 39)"
                assert link == "rgb(29, 78, 216)"
            assert _contrast(link, background) >= 4.5, (link, background)
            page.fill("#flame-search", "score")
            page.wait_for_function("document.getElementById('flame').dataset.matches === '1'")
            fills = {s["label"]: s["fill"] for s in _slices(page)}
            assert fills["score"] == HIGHLIGHT[theme], fills
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 10
            box = flame.bounding_box()
            assert box is not None and box["width"] <= width
            suffix = "" if width == 1400 else "-390"
            page.screenshot(path=str(screenshots / f"profile{suffix}-{theme}.png"), full_page=True)
            if theme == "light" and width == 1400:  # the toggle redraws in the other colours
                page.click("#theme-toggle")
                page.wait_for_function("document.getElementById('flame').dataset.theme === 'dark'")
            assert errors == [], (width, theme, errors)
            context.close()


def test_one_request_from_the_event_page(
    browser: Any,  # noqa: F811
    flame_site: str,
    screenshots: Path,  # noqa: F811
) -> None:
    context, page, errors = _tab(browser, 1400, "light")
    with urllib.request.urlopen(
        f"{flame_site}/dashboard/api/explorer/events?name=search"
    ) as answer:
        event_id = json.load(answer)["rows"][0]["id"]
    page.goto(f"{flame_site}/dashboard/explorer/event/{event_id}")
    page.wait_for_selector("#event-profile-link", state="visible")
    assert "CPU" in page.locator("#event-profile-note").inner_text()
    page.click("#event-profile-link")
    page.wait_for_url(f"**/profile/event/{event_id}")
    page.wait_for_selector("#flame g.slice")
    assert page.locator("#profile-name").inner_text() == "search"
    assert "score" in [s["label"] for s in _slices(page)]
    page.screenshot(path=str(screenshots / "profile-request.png"), full_page=True)
    page.goto(f"{flame_site}/dashboard/detail/request/search")
    page.click("#flame-link")
    page.wait_for_url("**/profile/request/search")
    page.wait_for_selector("#flame g.slice")
    assert errors == []
    context.close()
