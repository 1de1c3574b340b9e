"""Many hosts, end to end: two hosts (network namespaces, each with its own hostname and
address), each running gunicorn with 2 workers serving a Flask app with LookoutFlask, all
writing into one store (PostgreSQL, then separately ClickHouse); requests driven from this
process into each host's address; the counts per host exact; the dashboard served by a third
process over the same store shows both hosts.

The store servers listen on 127.0.0.1, which another namespace cannot reach: each host reaches
them through a forwarder on its veth pair's end here (:mod:`tests.fleet.netns`).
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.engine import SqlStore
from tests.conftest import REQUIRE_SERVICES, _empty, _unavailable
from tests.fleet.netns import Forwarder, Host, fleet, in_host, unusable
from tests.fleet.pages import check_pages
from tests.store.clickhouse_cluster import CLUSTER, ClickHouseCluster
from tests.store.clickhouse_server import (
    PASSWORD,
    USER,
    ClickHouseServer,
    ServerUnavailable,
    free_port,
)

#: requests per host: different, so that a count landing on the wrong host shows
REQUESTS = {"web-1": 300, "web-2": 180}
APP_PORT = 8000
DASHBOARD = ("--no-auth", "--port")

APP = textwrap.dedent("""
    import os, socket
    from flask import Flask
    from lookout import Lookout
    from lookout.flask import LookoutFlask

    app = Flask("fleet_app")
    lookout = Lookout(batch_interval=0.05)  # LOOKOUT_STORE from the environment
    LookoutFlask(app, lookout)

    @app.get("/ready")
    def ready():
        return "ok"

    @app.get("/work/<int:n>")
    def work(n):
        return f"{socket.gethostname()} {os.getpid()} {n}"
""")


@pytest.fixture(scope="module")
def hosts() -> Iterator[list[Host]]:
    reason = unusable()
    if reason is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason}; LOOKOUT_REQUIRE_SERVICES=1 requires it")
        pytest.skip(reason)
    with fleet(list(REQUESTS)) as made:
        yield made


def _get(address: str, port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, port, timeout=20)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait_until_serving(address: str, port: int, process: subprocess.Popen[str], path: str) -> None:
    deadline = time.monotonic() + 45
    while True:
        try:
            if _get(address, port, path)[0] == 200:
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"not serving on {address}:{port}: {err[-2000:]}")
        time.sleep(0.2)


def _run_hosts(hosts: list[Host], folder: Path, store_for: dict[str, str]) -> dict[str, set[int]]:
    """gunicorn on every host, the requests, then a graceful stop (the workers write what
    they queued); the pids that answered, per hostname."""
    (folder / "fleet_app.py").write_text(APP)
    servers = {}
    try:
        for host in hosts:
            command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--chdir", str(folder)]
            command += ["--bind", f"{host.address}:{APP_PORT}", "--graceful-timeout", "20"]
            servers[host.hostname] = subprocess.Popen(
                in_host(host, [*command, "fleet_app:app"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env={
                    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                    "LOOKOUT_STORE": store_for[host.hostname],
                },
            )
        for host in hosts:
            _wait_until_serving(host.address, APP_PORT, servers[host.hostname], "/ready")
        answered: dict[str, set[int]] = {}
        with ThreadPoolExecutor(8) as pool:
            for host in hosts:
                paths = [f"/work/{n}" for n in range(REQUESTS[host.hostname])]
                bodies = list(
                    pool.map(_get, [host.address] * len(paths), [APP_PORT] * len(paths), paths)
                )
                assert {status for status, _ in bodies} == {200}
                names = {body.decode().split()[0] for _, body in bodies}
                assert names == {host.hostname}  # its own hostname, in its own namespace
                answered[host.hostname] = {int(body.split()[1]) for _, body in bodies}
    finally:
        errors = {}
        for hostname, server in servers.items():
            server.send_signal(signal.SIGTERM)
            errors[hostname] = server.communicate(timeout=60)[1]
    for hostname, err in errors.items():
        assert "Traceback" not in err, (hostname, err[-3000:])
    return answered


def _dashboard(store: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lookout", "dashboard", "--store", store, *DASHBOARD, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_serving("127.0.0.1", port, process, "/dashboard/api/overview")
        yield "127.0.0.1", port
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def _api(address: tuple[str, int], path: str) -> tuple[int, Any]:
    status, body = _get(*address, f"/dashboard/api/{path}")
    return status, json.loads(body)


def _check_dashboard(address: tuple[str, int], browser: Any) -> None:
    """The overview counts every request; the per-host comparison and the host filter show
    both hosts, exactly, in the API and on the pages."""
    status, overview = _api(address, "overview")
    assert status == 200
    rows = {row["name"]: row for row in overview["rows"]}
    assert rows["work"]["hits_1h"] == sum(REQUESTS.values()), rows["work"]
    status, per_host = _api(address, "names/request/work/hosts?range=1h")
    assert status == 200
    assert {row["key"]: row["count"] for row in per_host["rows"]} == REQUESTS
    status, filters = _api(address, "filters")
    assert sorted(filters["hosts"]) == sorted(REQUESTS)
    check_pages(browser, f"http://{address[0]}:{address[1]}", REQUESTS)


def _forwarded(hosts: list[Host], port: int, forwarders: list[Forwarder]) -> dict[str, int]:
    """A forwarder to 127.0.0.1:port on each host's gateway; their ports, per hostname."""
    found = {}
    for host in hosts:
        forwarder = Forwarder(host.gateway, ("127.0.0.1", port))
        forwarders.append(forwarder)
        found[host.hostname] = forwarder.port
    return found


def test_two_hosts_into_one_postgresql_store(
    hosts: list[Host], postgres_database: str, tmp_path: Path, browser: Any
) -> None:
    url = sa.engine.make_url(_empty(postgres_database))
    forwarders: list[Forwarder] = []
    try:
        ports = _forwarded(hosts, url.port or 5432, forwarders)
        store_for = {
            host.hostname: url.set(host=host.gateway, port=ports[host.hostname]).render_as_string(
                hide_password=False
            )
            for host in hosts
        }
        SqlStore(url).close()  # the schema, before the workers race to make it
        answered = _run_hosts(hosts, tmp_path, store_for)
    finally:
        for forwarder in forwarders:
            forwarder.close()
    assert all(len(pids) == 2 for pids in answered.values()), answered  # both workers served
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        per_host = dict(
            connection.execute(
                sa.text(
                    "SELECT s.host, count(*) FROM lookout_events e "
                    "JOIN lookout_names n ON n.id = e.name_id "
                    "JOIN lookout_sources s ON s.id = e.source_id "
                    "WHERE n.name = 'work' GROUP BY s.host"
                )
            ).all()
        )
    engine.dispose()
    assert per_host == REQUESTS
    for address in _dashboard(url.render_as_string(hide_password=False)):
        _check_dashboard(address, browser)


@pytest.fixture(params=["one-server", "two-shards"])
def clickhouse_entry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ClickHouseServer, str, ClickHouseCluster | None]]:
    """The server the hosts write to, the URL option that says how, and the cluster if any."""
    if request.param == "one-server":
        yield request.getfixturevalue("clickhouse_server"), "?", None
        return
    servers = ClickHouseCluster(tmp_path_factory.mktemp("fleet-cluster"), shards=2)
    try:
        servers.start()
    except ServerUnavailable as error:
        _unavailable("ClickHouse cluster", error)
    try:
        yield servers.servers[0], f"?cluster={CLUSTER}&", servers
    finally:
        servers.stop()


def test_two_hosts_into_one_clickhouse_store(
    hosts: list[Host],
    clickhouse_entry: tuple[ClickHouseServer, str, ClickHouseCluster | None],
    postgres_database: str,
    tmp_path: Path,
    browser: Any,
) -> None:
    server, option, servers = clickhouse_entry
    settings = sa.engine.make_url(_empty(postgres_database))
    database = f"lookout_fleet_{uuid.uuid4().hex[:8]}"

    def url(address: str, port: int, settings_url: sa.URL) -> str:
        shared = quote(settings_url.render_as_string(hide_password=False), safe="")
        return (
            f"clickhouse://{USER}:{PASSWORD}@{address}:{port}/{database}{option}settings={shared}"
        )

    store = url("127.0.0.1", server.tcp_port, settings)
    ClickHouseStore(store).close()  # both schemas, before the workers race to make them
    forwarders: list[Forwarder] = []
    try:
        clickhouse_ports = _forwarded(hosts, server.tcp_port, forwarders)
        settings_ports = _forwarded(hosts, settings.port or 5432, forwarders)
        store_for = {
            host.hostname: url(
                host.gateway,
                clickhouse_ports[host.hostname],
                settings.set(host=host.gateway, port=settings_ports[host.hostname]),
            )
            for host in hosts
        }
        answered = _run_hosts(hosts, tmp_path, store_for)
    finally:
        for forwarder in forwarders:
            forwarder.close()
    assert all(len(pids) == 2 for pids in answered.values()), answered
    try:
        assert _per_host(server, f"{database}.lookout_events") == REQUESTS
        if servers is not None:  # each host's requests on both shards
            shards = [
                _per_host(shard, f"{database}_local.lookout_events") for shard in servers.servers
            ]
            assert all(min(shard.values()) > 0 for shard in shards), shards
        for address in _dashboard(store):
            _check_dashboard(address, browser)
    finally:
        for each in servers.servers if servers else [server]:
            each.query(f"DROP DATABASE IF EXISTS {database}")
            each.query(f"DROP DATABASE IF EXISTS {database}_local")


def _per_host(server: ClickHouseServer, table: str) -> dict[str, int]:
    rows = server.query(
        f"SELECT host, count() FROM {table} WHERE name = 'work' GROUP BY host ORDER BY host"
    )
    return {host: int(count) for host, count in (line.split("\t") for line in rows.splitlines())}
