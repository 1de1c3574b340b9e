"""Flask-MonitoringDashboard's README setup, changed only in its import line: config.cfg read,
the dashboard bound at CUSTOM_LINK with the configured logins, the app monitored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from lookout.compat import dashboard as compat_dashboard
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
    assert lookout.settings.app_version == COMMIT  # GIT's HEAD commit wins over APP_VERSION
    assert user_app.extensions["lookout"].levels.outlier_constant == 3.5
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
