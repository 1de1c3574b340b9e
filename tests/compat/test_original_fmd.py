"""Differential test of Flask-MonitoringDashboard 5.1.0's configuration reading against
lookout.compat.dashboard.config (see test_originals.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.compat.originals import run_original
from tests.compat.test_originals import run_lookout

pytestmark = pytest.mark.timeout(900)  # a first run builds the venv


# -- Flask-MonitoringDashboard -----------------------------------------------------------------
FMD_CONFIG = """
[dashboard]
APP_VERSION=2.4
CUSTOM_LINK=fmd
MONITOR_LEVEL=3
OUTLIER_DETECTION_CONSTANT=4
SAMPLING_RATE=20
ENABLE_LOGGING=True
[authentication]
USERNAME=chief
PASSWORD=long-password
[database]
DATABASE=sqlite:////tmp/fmd-compare.db
[visualization]
COLORS={'main': [1, 2, 3]}
"""
FMD_PRINT = """
import json
IMPORTS
c = Config()
c.init_from(file={path!r})
print(json.dumps({{key: getattr(c, key) for key in {keys!r}}}))
"""
FMD_KEYS = ["version", "link", "username", "password", "database_name", "monitor_level"]
FMD_KEYS += ["outlier_detection_constant", "enable_logging"]


@pytest.mark.parametrize("written", [True, False], ids=["config file", "missing file"])
def test_fmd5_reads_the_config_file_as_the_original(tmp_path: Path, written: bool) -> None:
    path = tmp_path / "config.cfg"
    if written:
        path.write_text(FMD_CONFIG)
    script = FMD_PRINT.format(path=str(path), keys=FMD_KEYS)
    original = run_original(
        "flask-monitoringdashboard",
        script.replace("IMPORTS", "from flask_monitoringdashboard.core.config import Config"),
    )
    lookout = run_lookout(
        script.replace("IMPORTS", "from lookout.compat.dashboard.config import Config")
    )
    assert isinstance(original, dict) and isinstance(lookout, dict)
    if not written:
        assert original.pop("password") == "admin"  # FMD's default login: Lookout generates one
        assert lookout.pop("password") is None
        assert (original.pop("monitor_level"), lookout.pop("monitor_level")) == (1, None)
    assert lookout == original
