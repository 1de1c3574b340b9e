"""The five compat migrations in examples/migrating/ run as their docstrings say, against real
local servers standing in for the originals' destinations (an HTTP endpoint, SMTP, a
CloudWatch-compatible server), and deliver what the original tools' READMEs promise."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
import re
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.examples.running import (
    EXAMPLES,
    counts,
    env_with,
    free_port,
    run_example,
    serving,
    wait_until_up,
)
from tests.receivers import Mailbox, Receiver

MIGRATING = EXAMPLES / "migrating"


def test_function_ext_monitor_posts_one_report_per_call(receiver: Receiver, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    result = run_example("migrating/function_ext_monitor.py", url, tmp_path, receiver.url)
    assert result.returncode == 0, result.stderr
    assert "simple_addition(40, 2) = 42" in result.stdout and "all reports sent" in result.stdout
    reports = [json.loads(sent["body"]) for sent in receiver.requests]  # type: ignore[arg-type]
    assert len(reports) == 3
    for report, sent in zip(reports, receiver.requests, strict=True):
        assert report["function_name"] == "simple_addition"
        assert report["author"] == "John Doe" and report["interval_in_seconds"] == 7
        datetime.fromisoformat(report["timestamp"])  # the lambda's value, called per call
        headers: Any = sent["headers"]
        assert headers["Authorization"] == "Bearer your-auth-token"
        assert headers["Content-Type"] == "application/json"


def test_function_ext_monitor_runs_alone_with_its_printing_endpoint(tmp_path: Path) -> None:
    result = run_example("migrating/function_ext_monitor.py", "sqlite://", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        len(re.findall(r"received \(Bearer your-auth-token\): .*'simple_addition'", result.stdout))
        == 3
    )


def test_flask_chest_writes_the_tracked_g_values_per_method(tmp_path: Path) -> None:
    chest, port = tmp_path / "chest.sqlite3", free_port()
    env = env_with(f"sqlite:///{tmp_path / 'unused.db'}", PORT=str(port), CHEST_DB=str(chest))
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(MIGRATING / "flask_chest_app.py")]
    with serving(command, env, tmp_path) as process:
        wait_until_up(f"{base}/ready", process)  # a 404, not a tracked route
        for _ in range(2):
            assert requests.get(f"{base}/").text == "Hello, World!"
        assert requests.post(f"{base}/", data={"data": "hello"}).ok
    with sqlite3.connect(chest) as db:
        rows = db.execute("SELECT request_id, name, value FROM flask_chest").fetchall()
    by_request: dict[str, dict[str, str]] = {}
    for request_id, name, value in rows:
        assert re.fullmatch(r"\d{20}", request_id)  # the README's custom generator
        by_request.setdefault(request_id, {})[name] = value
    shapes = sorted(sorted(values) for values in by_request.values())
    assert shapes == [
        ["data", "user_id"],
        ["session_id", "total_time", "user_id"],
        ["session_id", "total_time", "user_id"],
    ]
    posted = next(values for values in by_request.values() if "data" in values)
    assert posted == {"user_id": "123", "data": "hello"}
    timed = [
        float(values["total_time"]) for values in by_request.values() if "total_time" in values
    ]
    assert all(0.1 <= seconds < 10 for seconds in timed)  # the view's 0.1 s sleep


def test_cloudwatch_metrics_reach_a_cloudwatch_server(
    cloudwatch_endpoint: str, tmp_path: Path
) -> None:
    import boto3

    client = boto3.client("cloudwatch", endpoint_url=cloudwatch_endpoint)
    now = datetime.now(timezone.utc)

    def total(name: str, dimensions: list[dict[str, str]]) -> float:
        answer = client.get_metric_statistics(
            Namespace="FlaskApp",
            MetricName=name,
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=10),
            Period=60,
            Statistics=["Sum", "SampleCount"],
        )
        return sum(point["Sum"] for point in answer["Datapoints"])

    def published() -> tuple[float, float]:
        return total("RequestCount", []), total(
            "Fault", [{"Name": "ResourceName", "Value": "fragile"}]
        )

    port = free_port()
    env = env_with(f"sqlite:///{tmp_path / 'unused.db'}", PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    with serving([sys.executable, str(MIGRATING / "cloudwatch_app.py")], env, tmp_path) as process:
        wait_until_up(f"{base}/ready", process)
        for _ in range(3):
            assert requests.get(f"{base}/").ok
        for _ in range(2):
            assert requests.get(f"{base}/fragile").status_code == 503
        # published by the app's background worker within its batch interval (the first
        # publish makes the boto3 client: seconds on a busy machine), not at its exit
        deadline = time.monotonic() + 60
        while published() != (3, 2) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert published() == (3, 2)


@pytest.mark.parametrize("fail", [False, True], ids=["summary", "uncaught-error"])
def test_supervised_script_mails_with_the_log_gzipped(
    smtp_server: tuple[Mailbox, int, list[tuple[str, str]]], tmp_path: Path, fail: bool
) -> None:
    mailbox, port, _ = smtp_server
    log = tmp_path / "my_project.log"
    result = run_example(
        "migrating/supervised_script.py",
        f"sqlite:///{tmp_path / 'unused.db'}",
        tmp_path,
        *(["--fail"] if fail else []),
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        LOG_PATH=str(log),
    )
    assert result.returncode == (1 if fail else 0), result.stderr
    assert len(mailbox.messages) == 1
    sender, recipients, raw = mailbox.messages[0]
    assert (sender, recipients) == ("me@example.org", ["you@example.org"])
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(message["Subject"])
    if fail:
        assert (
            subject.startswith("[my_project] ")
            and "ValueError: the upload server refused" in subject
        )
        assert "Traceback" in result.stderr  # the script still fails as it did
    else:
        assert subject == "[my_project] my_project Update Summary"
    texts = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    assert "my_project version: 1.5.0" in texts[0].get_payload(decode=True).decode()
    attachments = [part for part in message.walk() if part.get_filename()]
    assert [part.get_filename() for part in attachments] == ["my_project.log.gz"]
    logged = gzip.decompress(attachments[0].get_payload(decode=True)).decode()
    assert "upload done" in logged
    assert ("refused the file" in logged) is fail  # the logger got the uncaught error


def test_fmd_app_serves_its_dashboard_with_the_files_logins(tmp_path: Path) -> None:
    store = tmp_path / "fmd.db"
    config = (MIGRATING / "fmd_config.cfg").read_text()
    config = config.replace("sqlite:///fmd-example.db", f"sqlite:///{store}")
    (tmp_path / "config.cfg").write_text(config)
    port = free_port()
    env = env_with(
        f"sqlite:///{store}", PORT=str(port), DASHBOARD_CONFIG=str(tmp_path / "config.cfg")
    )
    env.pop("LOOKOUT_STORE")  # the file's DATABASE names the store, as in FMD
    base = f"http://127.0.0.1:{port}"
    with serving([sys.executable, str(MIGRATING / "fmd_app.py")], env, tmp_path) as process:
        wait_until_up(f"{base}/orders/1", process)
        for _ in range(5):
            assert requests.get(f"{base}/").ok
        assert requests.get(f"{base}/orders/999").status_code == 404
        assert requests.get(f"{base}/report").ok
        guest = _logged_in(f"{base}/dashboard", "guest", "guest-password")
        assert guest.get(f"{base}/dashboard/api/overview").ok
        assert (
            _logged_in(f"{base}/dashboard", "admin", "admin")
            .get(f"{base}/dashboard/api/overview")
            .status_code
            == 401
        )
        admin = _logged_in(f"{base}/dashboard", "admin", "choose-a-long-password")
        hits = _hits_once_written(admin, f"{base}/dashboard/api/overview", "report")
    assert set(hits) == {"index", "order", "report"}, hits
    assert hits["index"] == 5 and hits["report"] == 1 and hits["order"] >= 2
    requests_seen = counts(f"sqlite:///{store}", "request")
    assert requests_seen["index"] == (5, 0)


def _hits_once_written(session: requests.Session, url: str, last: str) -> dict[str, int]:
    """Hits per endpoint from the overview once the background writer has stored ``last``."""
    deadline = time.monotonic() + 20
    while True:
        hits = {row["name"]: row["hits_24h"] for row in session.get(url).json()["rows"]}
        if last in hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.2)


def _logged_in(dashboard: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{dashboard}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    session.post(
        f"{dashboard}/login",
        data={"username": username, "password": password, "csrf_token": token[1]},
    )
    return session
