"""Exit and signal behaviour, each in a real child Python process."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import sqlalchemy as sa

SCRIPT_HEAD = """
import os, signal, sys, time
from lookout import Lookout
lk = Lookout(store=sys.argv[1], batch_interval=60)   # only a flush writes
work = lk.monitor(name="job")(lambda: None)
for _ in range(500):
    work()
"""


def _count(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM lookout_events")).scalar_one()
    engine.dispose()
    return int(count)


def _run(tmp_path: Path, body: str, *, terminate: bool) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "child.py"
    script.write_text(SCRIPT_HEAD + textwrap.dedent(body))
    db = tmp_path / "child.db"
    process = subprocess.Popen(
        [sys.executable, str(script), f"sqlite:///{db}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if terminate:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_exit_flushes_what_was_queued(tmp_path: Path) -> None:
    result = _run(tmp_path, "print('done')\n", terminate=False)
    assert result.returncode == 0, result.stderr
    assert _count(tmp_path / "child.db") == 500


def test_sigterm_flushes_then_dies_of_the_signal(tmp_path: Path) -> None:
    result = _run(tmp_path, "print('ready', flush=True)\ntime.sleep(60)\n", terminate=True)
    assert result.returncode == -signal.SIGTERM, result.stderr
    assert _count(tmp_path / "child.db") == 500


def test_sigterm_chains_to_the_applications_own_handler(tmp_path: Path) -> None:
    body = """
    def graceful(signum, frame):
        print("app handler ran", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, graceful)
    lk2 = Lookout(store=sys.argv[1])   # installs Lookout's handler over the app's
    print('ready', flush=True)
    time.sleep(60)
    """
    result = _run(tmp_path, body, terminate=True)
    assert result.returncode == 3, result.stderr
    assert "app handler ran" in result.stdout
    assert _count(tmp_path / "child.db") == 500


def test_sigterm_ignored_by_the_application_stays_ignored(tmp_path: Path) -> None:
    body = """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    lk2 = Lookout(store=sys.argv[1])
    print('ready', flush=True)
    time.sleep(1.0)
    print('still alive', flush=True)
    """
    started = time.monotonic()
    result = _run(tmp_path, body, terminate=True)
    assert result.returncode == 0, result.stderr
    assert "still alive" in result.stdout
    assert time.monotonic() - started >= 1.0
