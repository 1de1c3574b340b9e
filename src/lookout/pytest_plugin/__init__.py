"""The pytest plugin: record every test run's durations, outcomes and endpoints, for the Tests
page and for a CI gate on slowdowns.

    pytest --lookout                                   # into the configured store (lookout.db)
    pytest --lookout-store postgresql://ci@db/lookout --lookout-repeat 5
    pytest --lookout-submit https://shop.example/dashboard --lookout-token "$LOOKOUT_TOKEN"
    pytest --lookout --lookout-baseline main --lookout-fail-on-regression 20%

It is off unless one of ``--lookout``, ``--lookout-store URL`` or ``--lookout-submit URL`` is
given (or ``LOOKOUT_PYTEST_STORE`` / ``LOOKOUT_PYTEST_SUBMIT`` is set); off, it only adds its
options. Every option is public and documented in docs/tests.md; :data:`OPTIONS` lists them
for wrappers (``lookout.compat.dashboard.collect_performance`` builds its command from it).

Lookout never changes the session's exit status, except when the gate was asked for and a
test got significantly slower than the threshold: results that cannot be stored or submitted
are kept in a file, and the run says where in one line.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from lookout.testruns import TEST_PREFIX as TEST_PREFIX  # the name its readers import

#: Every option of the plugin: (flag, environment variable or None, what it does).
OPTIONS: tuple[tuple[str, str | None, str], ...] = (
    (
        "--lookout",
        None,
        "record this run into the configured store (lookout.toml, "
        "$LOOKOUT_STORE, else sqlite:///lookout.db)",
    ),
    ("--lookout-store", "LOOKOUT_PYTEST_STORE", "record this run into the store at URL"),
    (
        "--lookout-submit",
        "LOOKOUT_PYTEST_SUBMIT",
        "send this run to the dashboard at URL "
        "(e.g. https://host/dashboard): one POST at the end, retried",
    ),
    (
        "--lookout-token",
        "LOOKOUT_PYTEST_TOKEN",
        "the dashboard API token for --lookout-submit (admin role)",
    ),
    ("--lookout-repeat", None, "run each test's call N times and keep every duration (default 1)"),
    (
        "--lookout-version",
        "LOOKOUT_APP_VERSION",
        "the version under test (default: the git commit's first 12 characters)",
    ),
    (
        "--lookout-results-file",
        None,
        "where to keep the run when it cannot be stored or "
        "submitted (default .lookout/test-runs/<run>.json under the rootdir)",
    ),
    (
        "--lookout-baseline",
        None,
        "compare this run with REF (version, commit, branch, run:ID, latest) at the end",
    ),
    (
        "--lookout-fail-on-regression",
        None,
        "with --lookout-baseline: exit non-zero when a test "
        "is significantly slower by at least this much (e.g. 20%)",
    ),
    ("--lookout-alpha", None, "significance level of the comparison (default 0.05)"),
)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lookout", "test-suite performance with Lookout (docs/tests.md)")
    help_of = {flag: text for flag, _env, text in OPTIONS}
    group.addoption("--lookout", action="store_true", default=False, help=help_of["--lookout"])
    for flag in ("--lookout-store", "--lookout-submit", "--lookout-token", "--lookout-version"):
        group.addoption(flag, default=None, metavar="VALUE", help=help_of[flag])
    group.addoption(
        "--lookout-repeat",
        type=_positive_int,
        default=1,
        metavar="N",
        help=help_of["--lookout-repeat"],
    )
    for flag in ("--lookout-results-file", "--lookout-baseline", "--lookout-fail-on-regression"):
        group.addoption(flag, default=None, metavar="VALUE", help=help_of[flag])
    group.addoption("--lookout-alpha", type=float, default=0.05, help=help_of["--lookout-alpha"])


def _option(config: pytest.Config, flag: str) -> Any:
    value = config.getoption(flag)
    if value in (None, False):
        env = next((env for name, env, _ in OPTIONS if name == flag), None)
        if env:
            value = os.environ.get(env) or None
    return value


def pytest_configure(config: pytest.Config) -> None:
    store = _option(config, "--lookout-store")
    submit_url = _option(config, "--lookout-submit")
    if not (config.getoption("--lookout") or store or submit_url):
        return
    threshold = config.getoption("--lookout-fail-on-regression")
    if threshold is not None:
        from lookout.testruns.compare import parse_threshold

        try:
            parse_threshold(threshold)
        except ValueError as exc:
            raise pytest.UsageError(f"--lookout-fail-on-regression: {exc}") from None
        if not config.getoption("--lookout-baseline"):
            raise pytest.UsageError("--lookout-fail-on-regression needs --lookout-baseline REF")
    from lookout.pytest_plugin.capture import Capture

    repeat = config.getoption("--lookout-repeat")
    config.pluginmanager.register(Capture(repeat), "lookout-capture")
    if hasattr(config, "workerinput"):  # an xdist worker: its controller records the run
        return
    from lookout.pytest_plugin.finish import Finish

    if not store and not submit_url:
        store = _configured_store()
    finish = Finish(
        config,
        repeat=repeat,
        store=store,
        submit_url=submit_url,
        token=_option(config, "--lookout-token"),
        version=_option(config, "--lookout-version"),
    )
    config.pluginmanager.register(finish, "lookout-finish")


def _configured_store() -> str:
    from lookout.config import load_settings
    from lookout.store.engine import DEFAULT_STORE_URL

    settings, _ = load_settings()
    return settings.store or DEFAULT_STORE_URL


def pytest_unconfigure(config: pytest.Config) -> None:
    capture = config.pluginmanager.get_plugin("lookout-capture")
    if capture is not None:
        capture.close()
