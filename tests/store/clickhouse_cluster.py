"""A private ClickHouse cluster for the tests and benchmarks: several Debian clickhouse-server
processes (:mod:`tests.store.clickhouse_server`) on free ports of 127.0.0.1, each with a config
naming all of them in ``remote_servers`` (cluster ``lookout_test``) and its own ``{shard}`` /
``{replica}`` macros, and optionally one ZooKeeper (Debian's ``zookeeper`` package, standalone,
for distributed DDL and replicated tables). Everything is stopped by its pid.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.store.clickhouse_server import (
    PASSWORD,
    USER,
    ClickHouseServer,
    ServerUnavailable,
    free_port,
)

CLUSTER = "lookout_test"
ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
ZOOKEEPER_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"

ZOO_CFG = """\
tickTime=500
initLimit=10
syncLimit=5
dataDir={root}/data
clientPort={port}
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr
"""


class ZooKeeperServer:
    """A standalone ZooKeeper on 127.0.0.1:``port``, data in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        java = shutil.which("java")
        if java is None or not ZOOKEEPER_JAR.exists():
            raise ServerUnavailable("ZooKeeper not installed (apt-get install zookeeper)")
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        config = self.root / "zoo.cfg"
        config.write_text(ZOO_CFG.format(root=self.root, port=self.port))
        log = (self.root / "zookeeper.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [java, "-Xmx256m", "-cp", str(ZOOKEEPER_JAR), ZOOKEEPER_MAIN, str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while not self.ok():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerUnavailable(f"ZooKeeper did not answer (log: {self.root})")
            time.sleep(0.2)

    def ok(self) -> bool:
        """Serving sessions (``ruok`` answers before that; a clickhouse-server 18.16 that
        cannot reach ZooKeeper as it starts crashes in its DDL worker)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"srvr")
                return b"Mode: standalone" in sock.recv(4096)
        except OSError:
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(30)


class ClickHouseCluster:
    """``shards`` x ``replicas`` servers in one cluster, ZooKeeper beside them if asked."""

    def __init__(
        self,
        root: Path,
        *,
        shards: int = 2,
        replicas: int = 1,
        zookeeper: bool = False,
        recommended: bool = True,
    ):
        self.root = Path(root)
        self.shards, self.replicas = shards, replicas
        self.zookeeper = ZooKeeperServer(self.root / "zookeeper") if zookeeper else None
        self.servers = [
            ClickHouseServer(
                self.root / f"s{shard}r{replica}",
                extra_config=lambda shard=shard, replica=replica: self._config(shard, replica),
                recommended=recommended,
            )
            for shard in range(1, shards + 1)
            for replica in range(1, replicas + 1)
        ]

    def _config(self, shard: int, replica: int) -> str:
        shards = []
        for number in range(self.shards):
            members = "".join(
                f"<replica><host>127.0.0.1</host><port>{server.tcp_port}</port>"
                f"<user>{USER}</user><password>{PASSWORD}</password></replica>"
                for server in self.servers[number * self.replicas : (number + 1) * self.replicas]
            )
            internal = "true" if self.replicas > 1 else "false"
            shards.append(
                f"<shard><internal_replication>{internal}</internal_replication>{members}</shard>"
            )
        keeper = (
            f"<zookeeper><node><host>127.0.0.1</host><port>{self.zookeeper.port}</port></node>"
            "<session_timeout_ms>10000</session_timeout_ms></zookeeper>"
            "<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
            if self.zookeeper
            else ""
        )
        return (
            f"<remote_servers><{CLUSTER}>{''.join(shards)}</{CLUSTER}></remote_servers>"
            f"<macros><shard>{shard:02d}</shard><replica>r{replica}</replica></macros>"
            f"<interserver_http_host>127.0.0.1</interserver_http_host>{keeper}"
        )

    def start(self) -> None:
        try:
            if self.zookeeper:
                self.zookeeper.start()
            ports = [server.tcp_port for server in self.servers]
            for server in self.servers:
                server.start()
            if ports != [server.tcp_port for server in self.servers]:
                # a server took new ports (another process took one first): the configs
                # written before name the old ones
                for server in self.servers:
                    server.stop()
                    server.start()
        except BaseException:
            self.stop()
            raise

    def url(self, database: str, *, server: int = 0) -> str:
        """A cluster store URL through one of the servers (the first by default)."""
        return f"{self.servers[server].url(database)}?cluster={CLUSTER}"

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.zookeeper:
            self.zookeeper.stop()
