"""A private PostgreSQL server for the outage tests: its own data directory and port, started
and stopped by the test. The shared server on 5432 is never touched (other tests use it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb and postgres refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PrivatePostgres:
    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise FileNotFoundError(f"{BIN / 'initdb'} (PostgreSQL 15 server binaries)")
        self.root = Path(tempfile.mkdtemp(prefix="lookout-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = _free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = _as_postgres([str(BIN / program), *args])
        subprocess.run(command, check=check, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def count_seqs(self) -> list[int]:
        engine = sa.create_engine(self.url)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with engine.connect() as connection:
                        rows = connection.execute(
                            sa.text("SELECT fields FROM lookout_events")
                        ).scalars()
                        import json

                        return [json.loads(row)["seq"] for row in rows]
                except sa.exc.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        finally:
            engine.dispose()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
