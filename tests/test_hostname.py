"""The ``hostname`` setting: from the environment, a config file or an argument, to the store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from lookout import Lookout
from lookout.config import ConfigError, load_settings
from lookout.events import HOSTNAME
from lookout.store.origin_queries import hosts
from lookout.store.schema import sources


def test_hostname_from_file_argument_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('hostname = "from-file"\n')
    assert load_settings({}, environ={})[0].hostname is None
    settings, _ = load_settings({}, config_file=path, environ={})
    assert settings.hostname == "from-file"
    settings, _ = load_settings({"hostname": " web-7 "}, config_file=path, environ={})
    assert settings.hostname == "web-7"
    settings, _ = load_settings(
        {"hostname": "web-7"}, config_file=path, environ={"LOOKOUT_HOSTNAME": "from-env"}
    )
    assert settings.hostname == "from-env"
    for bad in ("", "   ", "x" * 256):
        with pytest.raises(ConfigError, match="hostname"):
            load_settings({"hostname": bad}, environ={})


def test_events_carry_lookout_hostname_from_the_environment() -> None:
    """Read when Lookout is imported, so every sink (OTLP, webhooks) sees it too."""
    code = "from lookout.events import HOSTNAME; print(HOSTNAME)"
    env = {"LOOKOUT_HOSTNAME": "container-web", "PATH": "/usr/bin:/bin"}
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "container-web"


def test_the_store_keeps_events_under_the_configured_hostname(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    lk = Lookout(store=url, hostname="checkout-1", app_version="2.0", batch_interval=0.01)
    work = lk.monitor(name="work")(lambda n: n)
    for n in range(20):
        work(n)
    assert lk.flush(30)
    assert lk.store is not None
    with lk.store.read_engine.connect() as connection:
        stored = set(connection.execute(sa.select(sources.c.host)).scalars())
    assert stored == {"checkout-1"} and HOSTNAME != "checkout-1"
    assert hosts(lk.store) == ["checkout-1"]
    lk.close()
