"""Every example in examples/ runs as its README says, and records what it promises.

Each runs as a real process (the Flask app and gunicorn over real HTTP on 127.0.0.1), and
the test reads the store it wrote, as a user would with ``lookout stats``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from lookout.store.engine import SqlStore
from lookout.store.queries import summarize
from tests.examples.running import (
    EXAMPLES,
    counts,
    env_with,
    free_port,
    run_example,
    serving,
    wait_until_up,
)


def _shop_traffic(base: str, users: tuple[str, ...] = ("alice", "bob")) -> None:
    for user in users:
        for _ in range(5):
            assert requests.get(f"{base}/products", headers={"X-User": user}).ok
    assert requests.get(f"{base}/products/9").status_code == 404
    assert requests.post(f"{base}/checkout", json={"items": [1, 3]}).json() == {"total_cents": 3598}
    assert requests.post(f"{base}/checkout", json={}).status_code == 500


def test_flask_app_records_requests_users_and_metrics(tmp_path: Path) -> None:
    url, port = f"sqlite:///{tmp_path / 'shop.db'}", free_port()
    env = env_with(url, PORT=str(port))
    with serving([sys.executable, str(EXAMPLES / "flask_app.py")], env, tmp_path) as process:
        wait_until_up(f"http://127.0.0.1:{port}/products", process)
        _shop_traffic(f"http://127.0.0.1:{port}")
    requests_seen = counts(url, "request")
    assert requests_seen["products"][0] >= 10  # plus the readiness probes
    assert requests_seen["product"] == (1, 0)  # a 404 is not an error
    assert requests_seen["checkout"] == (2, 1)  # the empty cart raised
    store = SqlStore(url)
    try:
        metrics = {s.name: s.count for s in summarize(store, since_s=3600) if s.kind == "metric"}
    finally:
        store.close()
    assert metrics == {"OrderValue": 1}


def test_monitored_library_records_calls_errors_and_extra(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    result = run_example("monitored_library.py", url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(empty) -> nothing to quote" in result.stdout and "DONE" in result.stdout
    calls = counts(url, "call")
    assert calls["__main__.parse"] == (3, 0)
    assert calls["pricing.quote"] == (3, 1)
    assert calls["__main__.fetch"] == (1, 0)


def test_cron_job_sends_a_summary_or_the_error_with_its_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_example("cron_job.py", url, tmp_path, *args)

    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert "300 rows imported" in ok.stdout
    failed = run("--fail")
    assert failed.returncode == 1
    assert "ConnectionError" in failed.stdout and "FTP server" in failed.stdout
    assert re.search(r"Attached: nightly-import\.log\.gz", failed.stdout)
    assert "Traceback" in failed.stderr  # the script still fails as it would have
    assert counts(url, "run") == {"nightly-import": (2, 1)}


def test_gunicorn_workers_record_every_request(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    url, port = f"sqlite:///{tmp_path / 'workers.db'}", free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(EXAMPLES / "gunicorn" / "gunicorn.conf.py"),
        "--chdir",
        str(EXAMPLES),
        "flask_app:app",
    ]
    env = env_with(url, BIND=f"127.0.0.1:{port}", WORKERS="2")
    with serving(command, env, tmp_path) as process:
        wait_until_up(f"http://127.0.0.1:{port}/products/1", process)
        for _ in range(40):
            assert requests.get(f"http://127.0.0.1:{port}/products").ok
    assert counts(url, "request")["products"] == (40, 0)


@pytest.mark.integration
def test_central_store_one_dashboard_over_two_instances(postgres_database: str) -> None:
    from tests.conftest import _empty

    url = _empty(postgres_database)
    ports = free_port(), free_port()
    dashboard_port = free_port()
    app = [sys.executable, str(EXAMPLES / "flask_app.py")]
    with (
        serving(app, env_with(url, PORT=str(ports[0]), SHOP_VERSION="1.0"), EXAMPLES) as first,
        serving(app, env_with(url, PORT=str(ports[1]), SHOP_VERSION="1.1"), EXAMPLES) as second,
    ):
        for port, process in zip(ports, (first, second), strict=True):
            wait_until_up(f"http://127.0.0.1:{port}/products/1", process)
            _shop_traffic(f"http://127.0.0.1:{port}", users=("alice",))
    dashboard = [
        sys.executable,
        "-m",
        "lookout",
        "dashboard",
        "--port",
        str(dashboard_port),
        "--admin-password",
        "central-secret",
    ]
    base = f"http://127.0.0.1:{dashboard_port}/dashboard"
    with serving(dashboard, env_with(url), EXAMPLES) as process:
        wait_until_up(f"{base}/login", process)
        session = requests.Session()
        form = session.get(f"{base}/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        login = session.post(
            f"{base}/login",
            data={"username": "admin", "password": "central-secret", "csrf_token": token[1]},
        )
        assert login.ok
        versions = session.get(f"{base}/api/names/request/products/versions").json()
        overview = session.get(f"{base}/api/overview").json()
    assert {row["key"] for row in versions["rows"]} >= {"1.0", "1.1"}
    products = next(row for row in overview["rows"] if row["name"] == "products")
    assert products["hits_24h"] >= 10
