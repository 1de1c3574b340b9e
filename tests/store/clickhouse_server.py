"""A private ClickHouse server for the tests and benchmarks: Debian's ``clickhouse-server``
(18.16 here), started on free ports of 127.0.0.1 with a config in a folder of its own, waited
for on ``/ping`` and stopped by its pid. Nothing on this machine starts ClickHouse by itself,
and the tests must never touch a server someone else runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

#: The server settings Lookout ships for its stores (zstd compression).
RECOMMENDED = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse" / "lookout.xml"
#: The user the tests connect as (a password, so that URLs with credentials are exercised).
USER, PASSWORD = "lookout", "lookout-test"

CONFIG = """\
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{root}/log/clickhouse-server.log</log>
        <errorlog>{root}/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>8589934592</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <format_schema_path>{root}/format_schemas/</format_schema_path>
    <users_config>{root}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
{extra}
</yandex>
"""

USERS = """\
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <{user}>
            <password>{password}</password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </{user}>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
"""


class ServerUnavailable(RuntimeError):
    """clickhouse-server is not installed here, or did not answer /ping in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClickHouseServer:
    """One clickhouse-server process with its data in ``root``; ``start()``, ``stop()``.

    The ports are kept across a stop and a start, so a client's URL stays valid through an
    outage (the spool tests stop the server and start it again).
    """

    def __init__(
        self,
        root: Path,
        *,
        extra_config: Callable[[], str] | None = None,
        recommended: bool = True,
    ) -> None:
        self.root = Path(root)
        #: more config elements (remote_servers, macros, zookeeper), rendered at each start
        self.extra_config = extra_config
        #: with the settings Lookout recommends (deploy/clickhouse/lookout.xml, in config.d/):
        #: what the tests and benchmarks run; False: the server's defaults (lz4)
        self.recommended = recommended
        self.http_port = free_port()
        self.tcp_port = free_port()
        self.interserver_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._answered = False  # once up, its ports are kept (a restart keeps the URL)

    @staticmethod
    def binary() -> str:
        found = shutil.which("clickhouse-server") or (
            "/usr/sbin/clickhouse-server" if os.path.exists("/usr/sbin/clickhouse-server") else None
        )
        if found is None:
            raise ServerUnavailable(
                "clickhouse-server not installed (apt-get install clickhouse-server)"
            )
        return found

    def url(self, database: str = "default") -> str:
        """A Lookout store URL for ``database`` on this server (native protocol port)."""
        return f"clickhouse://{USER}:{PASSWORD}@127.0.0.1:{self.tcp_port}/{database}"

    def start(self, timeout_s: float = 60.0, *, retried: bool = False) -> None:
        binary = self.binary()
        for folder in ("data", "tmp", "user_files", "format_schemas", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        config = self.root / "config.xml"
        config.write_text(
            CONFIG.format(
                root=self.root,
                http_port=self.http_port,
                tcp_port=self.tcp_port,
                interserver_port=self.interserver_port,
                extra=self.extra_config() if self.extra_config else "",
            )
        )
        (self.root / "users.xml").write_text(USERS.format(user=USER, password=PASSWORD))
        drop_in = self.root / "config.d" / RECOMMENDED.name
        drop_in.unlink(missing_ok=True)
        if self.recommended:  # read by the server from config.d/ beside its config file
            drop_in.parent.mkdir(exist_ok=True)
            shutil.copyfile(RECOMMENDED, drop_in)
        log = (self.root / "log" / "stdout.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [binary, f"--config-file={config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while not self.ping():
            exited = self.process.poll() is not None
            if exited and not retried and not self._answered and self._lost_a_port():
                # another process took a port between free_port() and the server's bind:
                # new ports, once (only before it ever answered: a restart keeps its URL)
                self.http_port, self.tcp_port = free_port(), free_port()
                self.interserver_port = free_port()
                (self.root / "log" / "clickhouse-server.err.log").unlink(missing_ok=True)
                self.process = None
                self.start(timeout_s, retried=True)
                return
            if exited or time.monotonic() > deadline:
                self.stop()
                raise ServerUnavailable(
                    f"clickhouse-server did not answer /ping (log: {self.root / 'log'})"
                )
            time.sleep(0.1)
        self._answered = True

    def _lost_a_port(self) -> bool:
        errors = self.root / "log" / "clickhouse-server.err.log"
        return errors.exists() and "Address already in use" in errors.read_text(errors="replace")

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http_port}/ping", timeout=2
            ) as response:
                return bool(response.read().strip() == b"Ok.")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def query(self, sql: str) -> str:
        """Run one statement over HTTP as the test user; its TabSeparated answer."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/?"
            + urllib.parse.urlencode({"user": USER, "password": PASSWORD}),
            data=sql.encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(response.read().decode())

    def stop(self, timeout_s: float = 30.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout_s)
