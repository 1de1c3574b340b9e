"""Running an example as its README says: a real process, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from lookout.store.engine import SqlStore
from lookout.store.queries import summarize

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    """A port free now on 127.0.0.1 (the example binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_with(store_url: str, **extra: str) -> dict[str, str]:
    """This environment with the example's store, so nothing lands in the checkout."""
    return {**os.environ, "LOOKOUT_STORE": store_url, **extra}


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Until the served example answers, failing early when its process has exited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the example exited early"
        try:
            requests.get(url, timeout=5)  # the first request may migrate the store
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@contextmanager
def serving(
    command: list[str], env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The example as a server, stopped with SIGTERM as a process manager stops it."""
    process = subprocess.Popen(command, env=env, cwd=cwd)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)  # Lookout flushes on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def counts(store_url: str, kind: str) -> dict[str, tuple[int, int]]:
    """(count, errors) per name of one kind in the last hour, as ``lookout stats`` reads them."""
    store = SqlStore(store_url)
    try:
        return {s.name: (s.count, s.errors) for s in summarize(store, since_s=3600, kind=kind)}
    finally:
        store.close()


def run_example(
    name: str, store_url: str, cwd: Path, *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """A script example run to its end, its output captured."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env_with(store_url, **extra_env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
