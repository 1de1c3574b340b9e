from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lookout import ConfigError, Lookout
from lookout.sinks.console import LoggingSink
from lookout.sinks.http import HttpSink


def test_sinks_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "lookout.toml"
    config.write_text(
        'store = "none"\n'
        '[[sinks]]\ntype = "http"\nurl = "http://127.0.0.1:9/in"\ngzip_body = true\n'
        '[[sinks]]\ntype = "log"\nlogger = "app.events"\n'
    )
    lk = Lookout(config_file=config)
    http, log = lk.sinks
    assert isinstance(http, HttpSink) and http.gzip_body and http.url == "http://127.0.0.1:9/in"
    assert isinstance(log, LoggingSink) and log.logger.name == "app.events"
    lk.close(0.5)


def test_sinks_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKOUT_SINKS", json.dumps([{"type": "log"}]))
    lk = Lookout(store=None)
    assert [type(s).__name__ for s in lk.sinks] == ["LoggingSink"]
    lk.close()


def test_bad_sink_tables_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKOUT_SINKS", '[{"type": "kafka"}]')
    with pytest.raises(ConfigError, match="type 'kafka' is not a sink type; choose one of http"):
        Lookout(store=None)
    monkeypatch.delenv("LOOKOUT_SINKS")
    config = tmp_path / "bad.toml"
    config.write_text('[[sinks]]\ntype = "http"\nurl = "http://x"\ngzip = true\n')
    with pytest.raises(ConfigError, match=r"sinks\[1\]: sink 'http': unknown option 'gzip'"):
        Lookout(store=None, config_file=config)
    monkeypatch.setenv("LOOKOUT_SINKS", "[not json")
    with pytest.raises(ConfigError, match="a JSON list of sink tables"):
        Lookout(store=None)


def test_check_tries_configured_sinks(tmp_path: Path) -> None:
    config = tmp_path / "lookout.toml"
    config.write_text(
        'store = "none"\n[[sinks]]\ntype = "http"\nurl = "http://127.0.0.1:1/in"\n'
        'timeout = 1\n[[sinks]]\ntype = "log"\n'
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lookout.cli import run; run()",
            "check",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "✗ http" in result.stdout and "✓ log" in result.stdout
