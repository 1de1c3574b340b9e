"""Outages and crashes: with the spool, every event arrives exactly once (sequence numbers
checked), or, after a ``kill -9``, all but what was in the killed process's memory.

- an HTTP endpoint answering 503 for 3 s, then 200; one that hangs for 3 s (the sink's
  timeout is 0.5 s);
- a private PostgreSQL server (never the shared one) stopped for 60 s under 500 events/s
  (10 s unless LOOKOUT_TEST_FULL_LENGTH=1, as in CI's last pass: it spools the same way, every
  batch after the first failure going to disk until the server answers), then started;
- ``kill -9`` of a process writing 2,000 events/s to SQLite, and of one writing to PostgreSQL
  while the server is down: the database is intact, the next process takes the spool over
  and replays it, and what is lost is within the bound docs/reliability.md states.
"""

from __future__ import annotations

import collections
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lookout import Lookout
from tests.faults.durations import seconds
from tests.faults.servers import Endpoint

ROOT = Path(__file__).resolve().parents[2]


class LoadProcess:
    """``tests/faults/load.py`` in a child process; remembers the last sequence it confirmed."""

    def __init__(self, url: str, spool: Path, rate: int, seconds: float, first: int) -> None:
        self.first = first
        self.last = first - 1
        self.done = False
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults.load",
                url,
                str(spool),
                str(rate),
                str(seconds),
                str(first),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("emitted "):
                self.last = int(line.split()[1])
            elif line.strip() == "done":
                self.done = True

    def running(self, timeout: float = 30) -> LoadProcess:
        """Wait until it records (starting Python and importing takes seconds when busy)."""
        deadline = time.monotonic() + timeout
        while self.last < self.first + 10:
            assert time.monotonic() < deadline and self.process.poll() is None
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(5)

    def wait(self, timeout: float) -> None:
        assert self.process.wait(timeout) == 0
        self._reader.join(5)
        assert self.done

    def emitted(self) -> set[int]:
        return set(range(self.first, self.last + 1))


def _exactly_once(stored: list[int]) -> set[int]:
    duplicates = [seq for seq, n in collections.Counter(stored).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} events stored twice, e.g. {duplicates[:5]}"
    return set(stored)


def _sqlite_seqs(path: Path) -> list[int]:
    import json

    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = connection.execute("SELECT fields FROM lookout_events").fetchall()
    finally:
        connection.close()
    return [json.loads(row[0])["seq"] for row in rows]


def _http_lookout(endpoint: Endpoint, spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Lookout:
    spec = {"type": "http", "url": endpoint.url, "timeout": 0.5, "spool": True}
    monkeypatch.setenv("LOOKOUT_SINKS", json.dumps([spec]))  # opt-in, as users configure it
    return Lookout(
        store=None,
        spool_dir=str(spool_dir),
        batch_size=100,
        batch_interval=0.05,
        retry_backoff=0.2,
        retry_max_backoff=0.5,
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", ["503", "hang"])
def test_http_sink_down_or_hanging_every_event_arrives_exactly_once(
    tmp_path: Path, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = Endpoint()
    lk = _http_lookout(endpoint, tmp_path / "spool", monkeypatch)
    (name,) = lk.stats()["sinks"]
    seq = 0
    try:
        started = time.monotonic()
        while time.monotonic() - started < 6:
            elapsed = time.monotonic() - started
            if 1 <= elapsed < 4:
                endpoint.mode = "down" if fault == "503" else "hang"
            elif elapsed >= 4 and endpoint.mode != "ok":
                endpoint.mode = "ok"
                endpoint.release.set()
            lk.emit(_seq_event(seq))
            seq += 1
            time.sleep(0.002)
        deadline = time.monotonic() + 20
        while lk.stats()["sinks"][name]["spool"]["depth"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lk.flush(20)
        stats = lk.stats()["sinks"][name]
    finally:
        lk.close()
        endpoint.stop()
    assert stats["spooled"] > 0 and stats["spool"]["replayed"] == stats["spooled"]
    assert (stats["failed"], stats["dropped"], stats["spool"]["depth"]) == (0, 0, 0)
    assert _exactly_once(endpoint.seqs()) == set(range(seq))


def _seq_event(seq: int) -> Any:
    from lookout import make_event

    return make_event("call", "outage.work", fields={"seq": seq})


@pytest.mark.timeout(90)
def test_sqlite_writer_killed_under_load_loses_only_what_was_in_memory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    spool = tmp_path / "spool"
    first = LoadProcess(url, spool, rate=2000, seconds=30, first=0).running()
    time.sleep(3)
    first.kill()
    second = LoadProcess(url, spool, rate=200, seconds=1, first=1_000_000)
    second.wait(60)
    stored = _exactly_once(_sqlite_seqs(tmp_path / "kill.db"))
    assert second.emitted() <= stored
    lost = first.emitted() - stored
    # the bound: what the killed process held in memory (see docs/reliability.md)
    print(f"SQLite kill -9 at 2,000 events/s: {len(first.emitted())} emitted, {len(lost)} lost")
    assert len(lost) <= 2000 * 0.5 + 100
    assert lost == set(range(min(lost), first.last + 1)) if lost else True  # only the last ones


@pytest.fixture
def private_postgres() -> Any:
    from tests.faults.postgres import PrivatePostgres

    try:
        server = PrivatePostgres()
    except (FileNotFoundError, subprocess.SubprocessError, OSError) as error:
        from tests.conftest import _unavailable

        _unavailable("a private PostgreSQL 15 server (initdb)", error)
    server.start()
    yield server
    server.remove()


@pytest.mark.integration
@pytest.mark.timeout(seconds(150, 260))
def test_postgres_outage_and_a_kill_during_it_every_event_exactly_once(
    private_postgres: Any, tmp_path: Path
) -> None:
    url, spool = private_postgres.url, tmp_path / "spool"
    # 1. stopped for 60 s (10 s) under 500 events/s, then started: everything arrives, once
    down_for = seconds(10, 60)
    outage = LoadProcess(url, spool, rate=500, seconds=down_for + 6, first=0).running()
    time.sleep(2)
    private_postgres.stop()
    time.sleep(down_for)
    private_postgres.start()
    outage.wait(60)
    stored = _exactly_once(private_postgres.count_seqs())
    assert stored == outage.emitted()
    # 2. killed while the server is down: the next process replays its spool
    killed = LoadProcess(url, spool, rate=500, seconds=30, first=100_000).running()
    time.sleep(2)
    private_postgres.stop()
    time.sleep(4)
    killed.kill()
    leftover = sorted(spool.rglob("*.seg"))
    assert leftover, "the killed process left its spool behind"
    private_postgres.start()
    successor = LoadProcess(url, spool, rate=100, seconds=2, first=200_000)
    successor.wait(60)
    stored = _exactly_once(private_postgres.count_seqs())
    assert outage.emitted() | successor.emitted() <= stored
    lost = killed.emitted() - stored
    print(f"PostgreSQL kill -9 during an outage: {len(killed.emitted())} emitted, {len(lost)} lost")
    assert len(lost) <= 500 * 0.5 + 100
    assert not list(spool.rglob("*.seg"))  # replayed and deleted
