"""Shared fixtures: isolated settings, and real database servers when they run here.

Tests needing PostgreSQL or MariaDB skip with a one-line reason when the server is not
reachable, unless ``LOOKOUT_REQUIRE_SERVICES=1`` (set by CI), where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lookout import _internal
from tests.receivers import Mailbox, Receiver

POSTGRES_ADMIN_URL = os.environ.get(
    "LOOKOUT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_ADMIN_URL = os.environ.get(
    "LOOKOUT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
REQUIRE_SERVICES = os.environ.get("LOOKOUT_REQUIRE_SERVICES") == "1"
CLICKHOUSE_CLUSTER = "lookout_test" if os.environ.get("LOOKOUT_TEST_CLICKHOUSE_CLUSTER") else ""


@pytest.fixture(autouse=True)
def _raise_internal_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookout swallows its own errors to protect the host; in our tests they must fail."""
    monkeypatch.setattr(_internal, "RAISE_INTERNAL_ERRORS", True)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LOOKOUT_* variable or lookout.toml of the developer's leaks into a test."""
    for key in list(os.environ):
        if key.startswith("LOOKOUT_") and key != "LOOKOUT_REQUIRE_SERVICES":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} not reachable ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; LOOKOUT_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


def _scratch_database(admin_url: str, what: str) -> Iterator[str]:
    """Create a database of our own on the server, yield its URL, drop it afterwards."""
    name = f"lookout_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as error:
        _unavailable(what, error)
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    yield from _scratch_database(POSTGRES_ADMIN_URL, "PostgreSQL")


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    yield from _scratch_database(MYSQL_ADMIN_URL, "MariaDB/MySQL")


def _empty(url: str) -> str:
    """Drop every table in the scratch database so each test starts from nothing."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("mysql", marks=pytest.mark.integration),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each database Lookout supports, empty at the start of the test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if request.param == "postgresql":
        return _empty(request.getfixturevalue("postgres_database"))
    return _empty(request.getfixturevalue("mysql_database"))


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("mysql", marks=pytest.mark.integration),
        "clickhouse",
    ]
)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``store_url``'s stores and a ClickHouse store (the real server, see clickhouse_url)."""
    if request.param == "clickhouse":
        pytest.importorskip("clickhouse_driver")
        return str(request.getfixturevalue("clickhouse_url"))
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if request.param == "postgresql":
        return _empty(request.getfixturevalue("postgres_database"))
    return _empty(request.getfixturevalue("mysql_database"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lookout.db'}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 recording every request (``tests/receivers.py``)."""
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def cloudwatch_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's CloudWatch-compatible server on 127.0.0.1, with dummy credentials; boto3 clients
    made without an endpoint go there too (``AWS_ENDPOINT_URL``)."""
    import requests
    from moto.server import ThreadedMotoServer

    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
    ):
        monkeypatch.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its backends' data per process, not per server: start each test empty
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield url
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int, list[tuple[str, str]]]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 accepting the password ``right``; yields
    its mailbox, port and every login tried."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        user, password = data.login.decode(), data.password.decode()
        logins.append((user, password))
        return AuthResult(success=password == "right", handled=False)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield mailbox, port, logins
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's clickhouse-server (18.16 here) on free ports, for the session; stopped by pid.

    Skips (fails under LOOKOUT_REQUIRE_SERVICES=1) when the binary is not installed.
    """
    from tests.store.clickhouse_cluster import ClickHouseCluster
    from tests.store.clickhouse_server import ClickHouseServer, ServerUnavailable

    root = tmp_path_factory.mktemp("clickhouse")
    # LOOKOUT_TEST_CLICKHOUSE_CLUSTER=1: every ClickHouse test on a cluster of two shards,
    # through its first server (docs/clickhouse.md#a-cluster-shards-and-replicas)
    servers = ClickHouseCluster(root, shards=2) if CLICKHOUSE_CLUSTER else None
    server = servers.servers[0] if servers else ClickHouseServer(root)
    try:
        (servers or server).start()
    except ServerUnavailable as error:
        _unavailable("ClickHouse", error)
    try:
        yield server
    finally:
        (servers or server).stop()


@pytest.fixture
def clickhouse_url(clickhouse_server: Any, tmp_path: Path) -> Iterator[str]:
    """A ClickHouse store URL on a database of its own (dropped afterwards), settings in a
    SQLite file of the test's."""
    database = f"lookout_test_{uuid.uuid4().hex[:10]}"
    settings = f"sqlite:///{tmp_path / 'settings.db'}"
    cluster = f"cluster={CLICKHOUSE_CLUSTER}&" if CLICKHOUSE_CLUSTER else ""
    yield f"{clickhouse_server.url(database)}?{cluster}settings={settings}"
    clickhouse_server.query(f"DROP DATABASE IF EXISTS {database}")
