"""The fleet tests' fixtures: headless Chromium as tests/browser starts it."""

from tests.browser.test_dashboard_browser import browser

__all__ = ["browser"]
