"""Hosts of a test fleet: Linux network namespaces joined to this machine by veth pairs, and a
TCP forwarder that lets them reach the store servers, which listen on 127.0.0.1 only.

Each host is a namespace with one veth end inside it (``10.231.X.2``, an address that exists
only in that namespace) and the other end here (``10.231.X.1``). The test process talks to the
host's address; the host talks to ``10.231.X.1``, where a :class:`Forwarder` in the test
process copies each connection to a server on 127.0.0.1 (a server's own loopback is not
reachable from another namespace). Everything made is removed on the way out, failures
included. Needs root and iproute2's ``ip netns``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SUBNET = "10.231"


@dataclass(frozen=True)
class Host:
    """One host of the fleet: its hostname, namespace and the two ends of its veth pair."""

    hostname: str
    namespace: str
    veth: str
    #: this machine's end of the veth pair: where the host reaches the forwarders
    gateway: str
    #: the host's own address, only inside its namespace: where its servers listen
    address: str


def unusable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "unshare", "hostname"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (iproute2, util-linux)"
    probe = f"lkf{os.getpid()}-probe"
    made = subprocess.run(
        ["ip", "netns", "add", probe], check=False, capture_output=True, text=True
    )
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()[:120]}"
    subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def fleet(hostnames: list[str]) -> Iterator[list[Host]]:
    """A namespace per hostname, each with its veth pair, removed afterwards."""
    tag = os.getpid() % 100_000
    base = (os.getpid() % 100) * 2  # another run's subnets are unlikely to be the same
    made: list[Host] = []
    try:
        for number, hostname in enumerate(hostnames, start=1):
            octet = base + number
            host = Host(
                hostname=hostname,
                namespace=f"lkf{tag}-{number}",
                veth=f"lkf{tag}h{number}",
                gateway=f"{SUBNET}.{octet}.1",
                address=f"{SUBNET}.{octet}.2",
            )
            _ip("netns", "add", host.namespace)
            made.append(host)
            inner = f"lkf{tag}n{number}"
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", host.namespace)
            _ip("addr", "add", f"{host.gateway}/30", "dev", host.veth)
            _ip("link", "set", host.veth, "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/30", "dev", inner)
            _ip("-n", host.namespace, "link", "set", inner, "up")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
        yield made
    finally:
        for host in made:  # deleting the namespace deletes its veth end, and so the pair
            subprocess.run(["ip", "netns", "del", host.namespace], check=False, capture_output=True)
            subprocess.run(["ip", "link", "del", host.veth], check=False, capture_output=True)


def in_host(host: Host, command: list[str]) -> list[str]:
    """``command`` run inside the host's namespace under its own hostname (a UTS namespace of
    its own: ``socket.gethostname()`` there, which Lookout records, is the host's)."""
    script = f'hostname {host.hostname} && exec "$0" "$@"'
    return ["ip", "netns", "exec", host.namespace, "unshare", "--uts", "sh", "-c", script, *command]


class Forwarder:
    """Listens on ``address`` (a free port) and copies every connection to and from
    ``target``, two threads a connection; ``close()`` ends them all."""

    def __init__(self, address: str, target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server((address, 0))
        self.address = address
        self.port = int(self._server.getsockname()[1])
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="forwarder").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._server.close()
        with self._lock:
            for sock in self._open:
                sock.close()
            self._open.clear()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # either side closed
