"""``lookout check`` on configured sinks: each one reported reachable and writable, or why not."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sinks.conftest import InfluxServer
from tests.test_cli import lookout_cli


def test_check_reports_every_configured_sink(
    tmp_path: Path, mongo_uri: str, influx_server: InfluxServer
) -> None:
    influx_server.query('CREATE DATABASE "checked"')
    sinks = [
        {"type": "mongo", "uri": mongo_uri, "database": "checked"},
        {"type": "influx", "url": influx_server.url, "database": "checked"},
    ]
    env = {"LOOKOUT_STORE": f"sqlite:///{tmp_path / 'c.db'}", "LOOKOUT_SINKS": json.dumps(sinks)}
    good = lookout_cli("check", env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "✓ mongo" in good.stdout and "✓ influx" in good.stdout
    sinks[1]["database"] = "missing"
    bad = lookout_cli("check", env={**env, "LOOKOUT_SINKS": json.dumps(sinks)})
    assert bad.returncode == 1
    assert "✓ mongo" in bad.stdout
    assert "✗ influx" in bad.stdout and "404" in bad.stdout
