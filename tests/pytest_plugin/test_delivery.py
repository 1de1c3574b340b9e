"""Where a run goes: a live dashboard over real HTTP with a token; a file when the dashboard
or the store cannot take it, sent later by ``lookout tests submit``; the session's exit
status never changed by any of it."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lookout.store.engine import SqlStore
from lookout.testruns.records import count_runs
from tests.pytest_plugin.suite import kept_files, live_dashboard, write_suite

pytest_plugins = ("pytester",)


def _runs(url: str) -> int:
    store = SqlStore(url)
    try:
        return count_runs(store)
    finally:
        store.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lookout_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lookout")), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_submitted_to_a_live_dashboard_with_a_token(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    url = f"sqlite:///{pytester.path / 'dashboard.db'}"
    with live_dashboard(url) as (dashboard, token):
        result = pytester.runpytest_subprocess(
            "--lookout-submit", dashboard, "--lookout-token", token, "--lookout-repeat", "2"
        )
        result.stdout.fnmatch_lines([f"lookout: 6 tests recorded as run 1 on {dashboard}"])
        assert result.ret == pytest.ExitCode.TESTS_FAILED  # test_broken, as without Lookout
        refused = pytester.runpytest_subprocess(
            "--lookout-submit", dashboard, "--lookout-token", "lk_0000_wrong", "-k", "steady"
        )
        assert refused.ret == pytest.ExitCode.OK
        refused.stdout.fnmatch_lines(["lookout: submitting failed: *answered HTTP 401*kept in *"])
    assert _runs(url) == 1 and len(kept_files(pytester.path)) == 1


def test_a_dashboard_that_is_down_keeps_the_run_for_later(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    down = f"http://127.0.0.1:{_closed_port()}/dashboard"
    result = pytester.runpytest_subprocess(
        "--lookout-submit", down, "--lookout-token", "t", "-k", "not broken"
    )
    assert result.ret == pytest.ExitCode.OK  # all its tests passed: Lookout changes nothing
    lines = [line for line in result.stdout.lines if line.startswith("lookout:")]
    assert len(lines) == 1 and "could not be reached after 4 tries" in lines[0]
    [kept] = kept_files(pytester.path)
    assert str(kept) in lines[0] and f"lookout tests submit {kept} --url {down}" in lines[0]
    url = f"sqlite:///{pytester.path / 'dashboard.db'}"
    with live_dashboard(url) as (dashboard, token):
        again = lookout_cli("tests", "submit", str(kept), "--url", dashboard, "--token", token)
        assert again.returncode == 0, again.stderr
        assert re.search(r"5 tests stored as run 1 on http", again.stdout)
    assert _runs(url) == 1 and not kept.exists()


def test_a_store_that_cannot_be_opened_keeps_the_run(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    bad = f"postgresql://nobody@127.0.0.1:{_closed_port()}/nothing"
    result = pytester.runpytest_subprocess("--lookout-store", bad)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the same as without Lookout
    result.stdout.fnmatch_lines(["lookout: storing into postgresql*failed*kept in *"])
    [kept] = kept_files(pytester.path)
    url = f"sqlite:///{pytester.path / 'later.db'}"
    first = lookout_cli("tests", "submit", str(kept), "--store", url)
    assert first.returncode == 0 and "6 tests stored as run 1" in first.stdout
    assert _runs(url) == 1


def test_a_run_sent_twice_is_stored_once(pytester: pytest.Pytester, tmp_path: Path) -> None:
    write_suite(pytester)
    kept_path = tmp_path / "run.json"
    down = f"http://127.0.0.1:{_closed_port()}/dashboard"
    pytester.runpytest_subprocess(
        "--lookout-submit", down, "--lookout-results-file", str(kept_path), "-k", "steady"
    )
    copy = tmp_path / "copy.json"
    copy.write_bytes(kept_path.read_bytes())
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    assert lookout_cli("tests", "submit", str(kept_path), "--store", url).returncode == 0
    second = lookout_cli("tests", "submit", str(copy), "--store", url)
    assert second.returncode == 0 and "was already stored as run 1" in second.stdout
    assert _runs(url) == 1
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "something else"}')
    refused = lookout_cli("tests", "submit", str(broken), "--store", url)
    assert refused.returncode == 2 and "format" in refused.stderr and broken.exists()
