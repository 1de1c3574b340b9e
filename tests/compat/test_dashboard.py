"""Flask-MonitoringDashboard's README setup, changed only in its import line: config.cfg read,
the dashboard bound at CUSTOM_LINK with the configured logins, the app monitored."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from lookout.compat import dashboard as compat_dashboard
from lookout.store.queries import summarize
from tests.dashboard.helpers import post_login

COMMIT = "3f2a9c1d5e7b8a0c4d6e8f1a2b3c4d5e6f708192"


@pytest.fixture
def fresh_config() -> Iterator[None]:
    """Each test starts from the documented defaults (``config`` is module-level state)."""
    compat_dashboard.config = compat_dashboard.Config()
    yield
    compat_dashboard.config = compat_dashboard.Config()


def write_config(tmp_path: Path, password: str = "s3cret-pass") -> Path:
    git = tmp_path / "project" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(COMMIT + "\n")
    config = tmp_path / "config.cfg"
    config.write_text(
        "[dashboard]\n"
        "APP_VERSION=1.0\n"
        "CUSTOM_LINK=monitor\n"
        "USERNAME=boss\n"
        f"PASSWORD={password}\n"
        "GUEST_USERNAME=guest\n"
        "GUEST_PASSWORD=['dashboardguest!', 'second_pw!']\n"
        f"DATABASE=sqlite:///{tmp_path / 'dashboard.db'}\n"
        f"GIT={git}/\n"
        "OUTLIER_DETECTION_CONSTANT=3.5\n"
        "COLORS={'main':[0,97,255], 'static':[255,153,0]}\n"
    )
    return config


def test_readme_setup(tmp_path: Path, fresh_config: None) -> None:
    config_path = write_config(tmp_path)
    # -- from the README, with its import line changed --
    from lookout.compat import dashboard

    user_app = Flask(__name__)

    @user_app.get("/")
    def main() -> str:
        return "hello"

    dashboard.config.from_file(str(config_path))

    def get_session_id() -> str:
        # Implement your own function for obtaining the user variable here.
        return "12345"

    dashboard.config.get_group_by = get_session_id
    dashboard.bind(app=user_app)
    # -- end of the README's code --
    lookout = user_app.extensions["lookout"].lookout
    client = user_app.test_client()
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert lookout.flush(10)
    assert lookout.settings.app_version == COMMIT[:6]  # GIT's HEAD commit, cut as FMD cuts it
    levels = user_app.extensions["lookout"].levels
    assert (levels.outlier_constant, levels.outlier_rule) == (3.5, "average")
    assert levels.default_level == 2  # the README's FMD recorded every endpoint's outliers
    assert client.get("/dashboard/").status_code == 404  # moved to CUSTOM_LINK
    anonymous = client.get("/monitor/")
    assert anonymous.status_code == 302 and "/monitor/login" in anonymous.headers["Location"]
    wrong = post_login(client, "admin", "admin", prefix="/monitor")
    assert wrong.status_code == 401  # no admin/admin unless the file says so
    ok = post_login(client, "boss", "s3cret-pass", prefix="/monitor")
    assert ok.status_code == 302
    me = client.get("/monitor/api/me").get_json()
    assert (me["user"], me["role"]) == ("boss", "admin")
    groups = client.get("/monitor/api/names/request/main/groups").get_json()["rows"]
    assert groups == [
        {
            "key": "12345",
            "count": 3,
            "errors": 0,
            "p50_ms": groups[0]["p50_ms"],
            "p90_ms": groups[0]["p90_ms"],
            "p99_ms": groups[0]["p99_ms"],
        }
    ]
    page = client.get("/monitor/").get_data(as_text=True)
    assert "rgb(0, 97, 255)" in page  # COLORS: the endpoint 'main' draws in its colour
    guest = user_app.test_client()
    assert post_login(guest, "guest", "second_pw!", prefix="/monitor").status_code == 302
    assert guest.get("/monitor/api/me").get_json()["role"] == "guest"
    lookout.close()


def test_environment_variable_overrides_the_path_and_admin_admin_warns(
    tmp_path: Path, fresh_config: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = write_config(tmp_path, password="admin")
    real.write_text(real.read_text().replace("USERNAME=boss", "USERNAME=admin"))
    monkeypatch.setenv("DASHBOARD_CONFIG", str(real))
    with pytest.warns(UserWarning, match="admin/admin"):
        compat_dashboard.config.from_file("/no/such/config.cfg")
    assert (compat_dashboard.config.username, compat_dashboard.config.password) == (
        "admin",
        "admin",
    )
    assert compat_dashboard.config.guest_password == ["dashboardguest!", "second_pw!"]
    assert compat_dashboard.config.link == "monitor"


def test_a_missing_file_keeps_fmd_s_defaults(
    fresh_config: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DASHBOARD_CONFIG", raising=False)
    compat_dashboard.config.from_file("/no/such/config.cfg")
    current = compat_dashboard.config
    assert (current.version, current.link, current.n) == ("1.0", "dashboard", 1)
    assert current.outlier_detection_constant == 2.5
    assert "not found" in caplog.text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("N=five", "[dashboard]: N = 'five' is not valid; expected a whole number above 0"),
        ("OUTLIER_DETECTION_CONSTANT=-1", "OUTLIER_DETECTION_CONSTANT = '-1' is not valid"),
        ("COLORS={'main': 'blue'}", "COLORS = \"{'main': 'blue'}\" is not valid; expected a dict"),
        ("MONITOR_LEVEL=7", "MONITOR_LEVEL = '7' is not valid; expected 0, 1, 2 or 3"),
        ("ENABLE_LOGGING=sometimes", "ENABLE_LOGGING = 'sometimes' is not valid"),
        ("OUTLIER_DETECTON_CONSTANT=2", "unknown key OUTLIER_DETECTON_CONSTANT; did you mean "),
        ("TABLE_PREFIX=fmd_", "TABLE_PREFIX is not supported: Lookout keeps its own tables"),
        ("SECURITY_TOKEN=x", "SECURITY_TOKEN is not supported"),
        ("GIT=/no/such/.git", "GIT = '/no/such/.git' is not valid; expected a .git folder"),
    ],
)
def test_bad_values_name_their_key(
    tmp_path: Path, fresh_config: None, line: str, message: str
) -> None:
    from lookout.config import ConfigError

    path = tmp_path / "config.cfg"
    path.write_text(f"[dashboard]\nAPP_VERSION=2.0\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        compat_dashboard.config.from_file(str(path))
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_fmd5_init_from_with_sections(
    tmp_path: Path, fresh_config: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fmd5.cfg"
    path.write_text(
        "[dashboard]\nAPP_VERSION=5.1\nCUSTOM_LINK=/fmd/\nMONITOR_LEVEL=3\n"
        "OUTlIER_DETECTION_CONSTANT=4\nSAMPLING_PERIOD=20\nENABLE_LOGGING=True\n"
        "[authentication]\nUSERNAME=chief\nPASSWORD=very-long-pass\n"
        f"[database]\nDATABASE=sqlite:///{tmp_path / 'fmd5.db'}\n"
        "[visualization]\nCOLORS={'main': [1, 2, 3]}\n"
    )
    monkeypatch.setenv("FMD_CONFIG", str(path))
    compat_dashboard.config.init_from(file="/ignored.cfg", envvar="FMD_CONFIG")
    app = Flask("fmd5")

    @app.get("/")
    def main() -> str:
        return "hello"

    compat_dashboard.bind(app)
    hooks = app.extensions["lookout"]
    try:
        assert hooks.lookout.settings.app_version == "5.1"
        assert hooks.lookout.settings.store == f"sqlite:///{tmp_path / 'fmd5.db'}"
        assert hooks.levels.default_level == 3 and hooks.levels.outlier_constant == 4.0
        assert hooks.sampler.interval == 0.02  # 20 ms
        assert compat_dashboard.config.colors == {"main": "rgb(1, 2, 3)"}
        assert logging.getLogger("lookout").level == logging.INFO  # ENABLE_LOGGING
        client = app.test_client()
        assert post_login(client, "chief", "very-long-pass", prefix="/fmd").status_code == 302
    finally:
        logging.getLogger("lookout").setLevel(logging.NOTSET)
        hooks.lookout.close()


def test_outliers_are_slower_than_the_constant_times_the_average(
    tmp_path: Path, fresh_config: None
) -> None:
    path = tmp_path / "config.cfg"
    path.write_text(
        f"[dashboard]\nDATABASE=sqlite:///{tmp_path / 'o.db'}\nOUTLIER_DETECTION_CONSTANT=3\n"
    )
    compat_dashboard.config.from_file(str(path))
    app = Flask("outliers")

    @app.get("/work")
    def work() -> str:
        return "done"

    compat_dashboard.bind(app)
    hooks = app.extensions["lookout"]
    try:
        client = app.test_client()
        for _ in range(12):
            client.get("/work")
        assert hooks.lookout.flush(10)
        hooks.levels.refresh()
        [summary] = [
            s
            for s in summarize(hooks.lookout.store, since_s=3600, kind="request")
            if s.name == "work"
        ]
        assert hooks.levels.thresholds_ns["work"] == int(3 * summary.mean_ms * 1e6)
    finally:
        hooks.lookout.close()
