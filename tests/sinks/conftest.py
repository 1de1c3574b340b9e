"""Servers the sink tests write to, started on 127.0.0.1 for the session.

- MongoDB: no mongod can be installed on this machine, so SecantusDB (a MongoDB wire-protocol
  server written in Python, test dependency) stands in; pymongo talks to it over TCP.
- InfluxDB 1.x: the real ``influxd`` from Debian's ``influxdb`` package, with a config of our
  own in a temporary folder (``.ci/run`` installs the package).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _unavailable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    try:
        from secantus import SecantusDBServer
    except ImportError as error:
        _unavailable("SecantusDB (MongoDB stand-in; pip install '.[test]')", error)
    server = SecantusDBServer(storage_path=":memory:", host="127.0.0.1")
    server.start()
    try:
        yield str(server.uri)
    finally:
        server.stop()


INFLUX_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
[ifql]
  enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""


class InfluxServer:
    """A running influxd: its URL and a helper to run InfluxQL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, statement: str, database: str | None = None) -> list[dict[str, object]]:
        """Run InfluxQL; return the result's series (``[]`` when nothing matched)."""
        import json

        params = {"q": statement, "epoch": "ns"}
        if database:
            params["db"] = database
        request = urllib.request.Request(
            f"{self.url}/query", data=urllib.parse.urlencode(params).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            result = json.load(response)["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        return list(result.get("series", []))


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    influxd = shutil.which("influxd")
    if influxd is None:
        _unavailable("InfluxDB 1.x", FileNotFoundError("influxd (apt-get install influxdb)"))
    root = tmp_path_factory.mktemp("influxdb")
    http_port = _free_port()
    config = Path(root, "influxdb.conf")
    config.write_text(INFLUX_CONFIG.format(root=root, rpc_port=_free_port(), http_port=http_port))
    log = Path(root, "influxd.log").open("wb")  # noqa: SIM115 - open while influxd runs
    process = subprocess.Popen(
        [str(influxd), "-config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError) as error:
                if process.poll() is not None or time.monotonic() > deadline:
                    _unavailable(f"influxd (see {log.name})", error)
                time.sleep(0.2)
        yield InfluxServer(url)
    finally:
        process.terminate()
        process.wait(20)
        log.close()
