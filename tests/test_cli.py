"""The ``lookout`` command, run as users run it: a real process on a real store."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import lookout


def lookout_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", "from lookout.cli import run; run()", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = lookout_cli(
            "demo",
            "--seconds",
            "0.5",
            "--no-serve",
            "--port",
            str(port),
            "--store",
            f"sqlite:///{tmp_path / 'd.db'}",
        )
    assert result.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr


def test_version() -> None:
    result = lookout_cli("--version")
    assert result.returncode == 0
    assert lookout.__version__ in result.stdout


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return lookout_cli(
        "demo", "--no-serve", "--customers", "2", "--port", str(_free_port()), *args, env=env
    )


def test_demo_records_and_stats_reads_it_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = run_demo("--seconds", "3", "--store", url)
    assert demo.returncode == 0, demo.stderr
    for name in (
        "shop.payments.charge",
        "shop.search.rank",
        "shop.inventory.reserve",
        "checkout",
        "products",
        "recommendations",
        "search",
        "shop.nightly-export",  # a supervised job run
    ):
        assert f" {name} " in demo.stdout, name
    assert "0 dropped, 0 failed" in demo.stdout
    assert "x 200" in demo.stdout
    stats = lookout_cli("stats", "--store", url, "--since", "10m")
    assert stats.returncode == 0, stats.stderr
    assert "shop.payments.charge" in stats.stdout and "p99" in stats.stdout
    assert "OrderValue" not in stats.stdout  # metrics have no latency to show


def test_demo_uses_the_configured_store(tmp_path: Path) -> None:
    db = tmp_path / "from-env.db"
    result = run_demo("--seconds", "0.5", env={"LOOKOUT_STORE": f"sqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_stats_on_an_empty_store(tmp_path: Path) -> None:
    from lookout.store.engine import SqlStore

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    SqlStore(url).close()
    result = lookout_cli("stats", "--store", url)
    assert result.returncode == 0
    assert "Nothing recorded" in result.stdout


def test_a_mistyped_store_path_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    for path in (tmp_path / "nonexistent" / "dir" / "x.db", tmp_path / "typo.db"):
        for command in (["stats"], ["prune", "--older-than", "1d"], ["watch", "--once"]):
            result = lookout_cli(*command, "--store", f"sqlite:///{path}")
            assert result.returncode == 2, (command, result.stdout, result.stderr)
            assert "no SQLite store at" in result.stderr and "--create" in result.stderr
        assert not path.exists()
    assert not (tmp_path / "nonexistent").exists()


def test_user_text_is_printed_as_given_never_as_markup(tmp_path: Path) -> None:
    """Endpoint names such as Lookout's own "[unmatched]" and hints such as
    "pip install 'lookout[postgres]'" contain brackets that Rich would read as markup."""
    import lookout as lookout_module

    url = f"sqlite:///{tmp_path / 'names.db'}"
    lk = lookout_module.Lookout(store=url, handle_sigterm=False)
    names = ("[unmatched]", "shop.[bold]cart", "x[/]y")
    for name in names:
        lk.monitor(name=name)(lambda: None)()
    assert lk.flush(10)
    lk.close()
    result = lookout_cli("stats", "--store", url)
    assert result.returncode == 0, result.stderr
    for name in names:
        assert name in result.stdout
    no_driver = lookout_cli("stats", "--store", "oracle://nobody@127.0.0.1/none")
    assert no_driver.returncode == 2
    assert "Traceback" not in no_driver.stderr


def test_python_dash_m_lookout_is_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lookout", "--version"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"lookout {lookout.__version__}" in result.stdout


def test_prune(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert run_demo("--seconds", "0.5", "--store", url).returncode == 0
    keep = lookout_cli("prune", "--store", url, "--older-than", "1d")
    assert keep.returncode == 0 and "Deleted 0 events" in keep.stdout
    drop = lookout_cli("prune", "--store", url, "--older-than", "0s")
    assert drop.returncode == 0 and "Deleted 0 events" not in drop.stdout
    bad = lookout_cli("prune", "--store", url, "--older-than", "soon")
    assert bad.returncode == 2 and "expected a duration" in bad.stderr


def test_check_reports_settings_and_sinks(tmp_path: Path) -> None:
    config = tmp_path / "lookout.toml"
    config.write_text(f'store = "sqlite:///{tmp_path / "c.db"}"\napp_version = "3.2"\n')
    result = lookout_cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "app_version" in result.stdout and "'3.2'" in result.stdout
    assert "✓ sql" in result.stdout and "writable" in result.stdout


def test_check_fails_clearly_on_bad_settings_and_unreachable_store(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("batch_sise = 3\n")
    bad = lookout_cli("check", "--config", str(config))
    assert bad.returncode == 2
    assert "did you mean 'batch_size'" in bad.stderr
    unreachable = lookout_cli(
        "check", env={"LOOKOUT_STORE": "postgresql://nobody@127.0.0.1:1/none"}
    )
    assert unreachable.returncode == 1
    assert "✗ sql" in unreachable.stdout


def test_prune_dry_run_counts_and_deletes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dry.db'}"
    assert run_demo("--seconds", "0.5", "--store", url).returncode == 0
    import re

    def recorded() -> str:  # the stats table without its "last call ... ago" column
        stats = lookout_cli("stats", "--store", url, "--since", "1d").stdout
        return re.sub(r"[\s│─]+", " ", re.sub(r"\d+[smhd] ago", "", stats))

    before = recorded()
    dry = lookout_cli("prune", "--store", url, "--older-than", "0s", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would delete" in dry.stdout and "nothing was deleted" in dry.stdout
    assert "Would delete 0 events" not in dry.stdout
    assert recorded() == before
    real = lookout_cli("prune", "--store", url, "--older-than", "0s")
    counted = dry.stdout.split("Would delete ")[1].split(" events")[0]
    assert f"Deleted {counted} events" in real.stdout


def test_dashboard_without_auth_off_loopback_warns(tmp_path: Path) -> None:
    from lookout.store.engine import SqlStore

    url = f"sqlite:///{tmp_path / 'w.db'}"
    SqlStore(url).close()
    # 192.0.2.1 is a documentation address that no interface here has: the bind fails at
    # once, after the warning, and nothing is ever sent anywhere.
    result = lookout_cli("dashboard", "--store", url, "--no-auth", "--host", "192.0.2.1")
    assert result.returncode != 0
    assert "warning" in result.stderr and "--no-auth on 192.0.2.1" in result.stderr


def _log_in(base: str, password: str) -> int:
    """Log in through the dashboard's form as a browser does; the answer's status."""
    import re

    import requests

    session = requests.Session()
    deadline = time.monotonic() + 60  # "Dashboard over ..." is printed just before it listens
    while True:
        try:
            form = session.get(f"{base}/login", timeout=30).text
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "the dashboard never answered"
            time.sleep(0.1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = session.post(
        f"{base}/login",
        data={"username": "admin", "password": password, "csrf_token": token[1]},
        allow_redirects=False,
        timeout=30,
    )
    return answer.status_code


class Served:
    """``lookout dashboard`` running, with everything it prints collected as it comes."""

    def __init__(self, url: str, port: int) -> None:
        import os
        import threading

        self.process = subprocess.Popen(
            [sys.executable, "-m", "lookout", "dashboard", "--store", url, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "160"},
        )
        self.printed = ""
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.printed += line
                self._changed.notify_all()

    def wait_for(self, marker: str, seconds: float = 60) -> str:
        with self._changed:
            assert self._changed.wait_for(lambda: marker in self.printed, seconds), self.printed
            return self.printed

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def test_the_demo_login_works_on_lookout_dashboard_over_the_same_store(tmp_path: Path) -> None:
    import requests

    from lookout.demo import run_demo as run_shop

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    server, lk, _ = run_shop(url, seconds=1, customers=1, port=_free_port())
    server.stop()
    lk.close()
    assert server.dashboard_password
    port = _free_port()
    dashboard = Served(url, port)
    try:
        dashboard.wait_for("Dashboard over")
        base = f"http://127.0.0.1:{port}/dashboard"
        assert _log_in(base, "wrong") == 401
        assert _log_in(base, server.dashboard_password) == 302
        assert requests.get(f"{base}/login", timeout=30).ok
    finally:
        dashboard.stop()


def test_lookout_dashboard_prints_a_new_stores_password_at_start(tmp_path: Path) -> None:
    from lookout.store.engine import SqlStore

    url = f"sqlite:///{tmp_path / 'new.db'}"
    SqlStore(url).close()
    port = _free_port()
    dashboard = Served(url, port)
    try:
        printed = dashboard.wait_for("generated the password")  # before any request
        password = printed.split("generated the password of user 'admin': ")[1].split()[0]
        dashboard.wait_for("Dashboard over")
        assert _log_in(f"http://127.0.0.1:{port}/dashboard", password) == 302
    finally:
        dashboard.stop()
