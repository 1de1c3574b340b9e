"""deploy/Dockerfile's command and health check, run as the container would run them.

No container engine runs on this project's machines, so the image is not built here; what
the image would run is: the ``CMD`` and ``HEALTHCHECK`` lines are read from the Dockerfile and
executed against a real store over real HTTP (on 127.0.0.1 instead of 0.0.0.0).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from lookout.store.engine import SqlStore

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _instruction(dockerfile: str, name: str) -> list[str]:
    """The JSON (exec) form of the last ``name`` instruction, continuation lines joined."""
    text = dockerfile.replace("\\\n", " ")
    found = re.findall(rf"^{name}\s+(?:--\S+\s+)*(?:CMD\s+)?(\[.*\])\s*$", text, re.MULTILINE)
    assert found, f"no {name} in exec form"
    return list(json.loads(found[-1]))


def test_the_image_command_serves_the_dashboard_and_passes_its_health_check(
    tmp_path: Path,
) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    command = _instruction(dockerfile, "CMD")
    health = _instruction(dockerfile, "HEALTHCHECK")
    assert command[:2] == ["lookout", "dashboard"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, "-m", "lookout", *command[1:]]
    command[command.index("0.0.0.0")] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    url = f"sqlite:///{tmp_path / 'central.db'}"
    SqlStore(url).close()
    env = {**os.environ, "LOOKOUT_STORE": url, "LOOKOUT_DASHBOARD_ADMIN_PASSWORD": "pw"}
    process = subprocess.Popen(command, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "lookout dashboard exited"
            try:
                assert requests.get(f"http://127.0.0.1:{port}/dashboard/login", timeout=2).ok
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        check = [part.replace("5001", str(port)) for part in health]
        check[0] = sys.executable
        assert subprocess.run(check, timeout=10, check=False).returncode == 0
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_compose_runs_the_same_image_behind_tls() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "dockerfile: deploy/Dockerfile" in compose
    assert 'expose: ["5001"]' in compose  # the dashboard is reachable by the proxy only
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy dashboard:5001" in caddy
