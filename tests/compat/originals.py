"""The original packages, each in a virtual environment of its own, for differential tests.

A venv per package and version is made once under ``~/.cache/lookout-compat-venvs`` (or
``$LOOKOUT_COMPAT_VENVS``), keyed by package, version, Python and the test environment it
reads (a venv pointing at a test environment since deleted, say a CI clone's, would find none
of its dependencies), so reruns start at once.
The venv sees this test environment's site-packages after its own (a ``.pth`` line), so pip
installs only what the original pins differently or what is missing here: the original's own
dependency pins win, and a venv takes seconds rather than minutes. Lookout itself is not
importable there (its editable install's ``.pth`` is not processed from a plain path line).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

#: The releases compared: the newest of each on PyPI (checked 2026-12-02).
ORIGINALS = {
    "function-ext-monitor": "0.0.6",
    "flask-chest": "0.0.10",
    "flask-cloudwatch-metric": "0.1.7",
    "agrc-supervisor": "3.1.0",
    "flask-monitoringdashboard": "5.1.0",
}
PIP = (sys.executable, "-m", "pip")
CACHE = Path(os.environ.get("LOOKOUT_COMPAT_VENVS") or Path.home() / ".cache/lookout-compat-venvs")


def original_python(package: str) -> Path:
    """The interpreter of a venv where ``package`` (at :data:`ORIGINALS`'s version) is
    installed; skips the test with pip's reason when it cannot be installed here."""
    version = ORIGINALS[package]
    test_env = sysconfig.get_paths()["purelib"]
    env_digest = hashlib.sha256(test_env.encode()).hexdigest()[:10]
    key = f"{package}-{version}-py{sys.version_info.major}{sys.version_info.minor}-{env_digest}"
    root = CACHE / key
    python = root / "bin" / "python"
    ready = root / ".ready"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never build one venv at once
        if ready.exists():
            return python
        # no ensurepip (the slow part): this environment's pip installs into it (--python)
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", "--without-pip", str(root)], check=True
        )
        Path(_purelib(python), "_lookout_test_env.pth").write_text(test_env + "\n")
        installed = subprocess.run(
            [*PIP, "--python", str(python), "install", "-q", f"{package}=={version}"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if installed.returncode != 0:
            last = (installed.stderr.strip().splitlines() or ["(no output)"])[-1]
            pytest.skip(f"{package} {version} does not install here: {last}")
        ready.write_text(version)
    return python


def run_original(package: str, script: str, env: dict[str, str] | None = None) -> object:
    """Run ``script`` with the original's interpreter; it prints one JSON value last."""
    result = subprocess.run(
        [str(original_python(package)), "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": "", **(env or {})},
    )
    assert result.returncode == 0, f"{package}'s script failed:\n{result.stderr[-3000:]}"
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def original_source(package: str, relative: str) -> str:
    """A file of the installed original (to compare against its source where it cannot run)."""
    return Path(_purelib(original_python(package)), relative).read_text()


def _purelib(python: Path) -> str:
    """Where ``python`` installs packages."""
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
