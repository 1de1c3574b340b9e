"""function-ext-monitor, flask-cloudwatch-metric and agrc supervisor: each README's example,
changed only in its import line, against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import datetime
import email
import email.policy
import gzip
import io
import json
import socket
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask

from tests.receivers import Mailbox, Receiver


# -- function-ext-monitor -------------------------------------------------------------------------
def test_function_ext_monitor_readme_example(receiver: Receiver) -> None:
    from lookout.compat import function_ext_monitor as module
    from lookout.compat.function_ext_monitor import external_function_monitor

    EXTRA_DATA_TO_SEND = {
        "interval_in_seconds": 7,
        "author": "John Doe",
        "timestamp": lambda _: datetime.datetime.now(),
        "headers": {
            "Authorization": "Bearer your-auth-token",
        },
    }

    @external_function_monitor(receiver.url, **EXTRA_DATA_TO_SEND)
    def simple_addition(first_number: int, second_number: int) -> int:
        """
        This function adds the first_number to the second_number
        and returns the sum
        """
        return first_number + second_number

    assert simple_addition(2, 3) == 5
    assert simple_addition(10, -4) == 6
    assert simple_addition.__doc__ is not None and "adds" in simple_addition.__doc__
    assert module.flush(10)
    assert len(receiver.requests) == 2  # one POST per call
    request = receiver.requests[0]
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    assert headers["Authorization"] == "Bearer your-auth-token"
    assert headers["Content-Type"] == "application/json"
    body = json.loads(request["body"])  # type: ignore[arg-type]
    assert list(body)[:2] == ["function_name", "host_name"]  # the original's keys, in order
    assert body["function_name"] == "simple_addition"
    assert body["host_name"] == socket.gethostname()
    assert (body["interval_in_seconds"], body["author"]) == (7, "John Doe")
    assert datetime.datetime.fromisoformat(body["timestamp"]).year >= 2024  # ISO 8601
    assert "headers" not in body
    assert module.stats()[receiver.url]["written"] == 2


def test_function_ext_monitor_leaves_exceptions_alone(receiver: Receiver) -> None:
    from lookout.compat import function_ext_monitor as module
    from lookout.compat.function_ext_monitor import external_function_monitor

    @external_function_monitor(receiver.url, team="billing")
    def divide(a: int, b: int) -> float:
        return a / b

    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    assert module.flush(10)
    [request] = receiver.requests
    assert json.loads(request["body"])["team"] == "billing"  # type: ignore[arg-type]


def test_function_ext_monitor_calls_zero_argument_callables_and_keeps_named_values(
    receiver: Receiver,
) -> None:
    from lookout.compat import function_ext_monitor as module
    from lookout.compat.function_ext_monitor import external_function_monitor

    calls: list[int] = []
    long_text = "q" * 81_390

    class Calculator:
        @external_function_monitor(
            receiver.url,
            {"X-Run": lambda: "run-7"},  # headers, positionally as the original allows
            calls=lambda: len(calls),  # called with no argument, as the original does
            max_tokens=512,
            session_count=3,
            prompt=long_text,
        )
        def add(self, a: int, b: int) -> int:
            calls.append(1)
            return a + b

    assert Calculator().add(1, 2) == 3
    assert module.flush(10)
    [request] = receiver.requests
    body = json.loads(request["body"])  # type: ignore[arg-type]
    assert request["headers"]["X-Run"] == "run-7"  # type: ignore[index]
    assert body["calls"] == 1 and "calls.error" not in body
    assert (body["max_tokens"], body["session_count"]) == (512, 3)  # never redacted
    assert body["prompt"] == long_text  # sent whole, as the original sent it
    # a method of a local class is named as the original names it: its plain name
    assert body["function_name"] == "add"


def test_function_ext_monitor_names_module_level_methods_class_dot_name() -> None:
    from lookout.compat.function_ext_monitor import function_name

    assert function_name(Receiver.stop) == "Receiver.stop"
    assert function_name(_run) == "_run"


# -- flask-cloudwatch-metric -------------------------------------------------------------------------
def test_cloudwatch_readme_example(cloudwatch_endpoint: str) -> None:
    from lookout.compat.cloudwatch import CloudWatchMetricsReporter

    app = Flask(__name__)
    metrics_reporter = CloudWatchMetricsReporter(app)

    @app.route("/")
    def main() -> Any:
        response = "hello"
        metrics_reporter.add_metric(
            metric_name="RequestCount", value=1, unit="Count", dimensions=[]
        )
        return response, 200

    client = app.test_client()
    for _ in range(25):
        assert client.get("/").status_code == 200
    assert metrics_reporter.lookout.flush(20)
    reader = boto3.client("cloudwatch")  # AWS_ENDPOINT_URL: moto's server
    now = datetime.datetime.now(datetime.timezone.utc)
    points = reader.get_metric_statistics(
        Namespace="FlaskApp",
        MetricName="RequestCount",
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=5),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    assert sum(p["Sum"] for p in points) == 25
    names = {m["MetricName"] for m in reader.list_metrics(Namespace="FlaskApp")["Metrics"]}
    assert names == {"RequestCount"}  # only what the app added, as the original published
    metrics_reporter.lookout.close()


def test_cloudwatch_later_releases_constructor_decorators_and_add_metric_outside_a_request(
    cloudwatch_endpoint: str,
) -> None:
    from lookout.compat.cloudwatch import (
        CloudWatchMetricsReporter,
        fault_failure_error,
        request_count,
    )

    app = Flask(__name__)
    # 0.1.7's positional form: app, namespace, aws_region_name, key id, secret
    reporter = CloudWatchMetricsReporter(app, "Shop", "eu-west-1", "testing", "testing")

    @app.route("/items/<int:n>")
    @request_count(reporter, "Items")
    @fault_failure_error(reporter, "Items")
    def items(n: int) -> Any:
        if n == 0:
            raise ValueError("no items")
        return "ok", 404 if n == 4 else 200

    client = app.test_client()
    assert client.get("/items/1").status_code == 200
    assert client.get("/items/4").status_code == 404
    assert client.get("/items/0").status_code == 500
    with app.app_context():  # a CLI command, say: no request, nothing buffered, no error
        CloudWatchMetricsReporter.add_metric("Offline", 1, "Count", [])
    with pytest.raises(RuntimeError):  # no application context at all: as the original's g
        reporter.add_metric("Nowhere", 1, "Count", [])
    assert reporter.lookout.flush(20)
    reader = boto3.client("cloudwatch")
    found = {
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in reader.list_metrics(Namespace="Shop")["Metrics"]
    }
    assert found == {
        ("RequestCount", (("ResourceName", "Items"), ("StatusCode", "200"))),
        ("RequestCount", (("ResourceName", "Items"), ("StatusCode", "404"))),
        ("Error", (("ResourceName", "Items"),)),
        ("Failure", (("ResourceName", "Items"),)),
    }
    reporter.lookout.close()


# -- agrc supervisor ---------------------------------------------------------------------------------
SUCCESS_SCRIPT = """
import datetime
import logging
from logging.handlers import RotatingFileHandler

from lookout.compat.supervisor import ConsoleHandler, SendGridHandler, MessageDetails, Supervisor

my_logger = logging.getLogger('my_project')
log_handler = RotatingFileHandler(r'{log}', backupCount=10)
my_logger.addHandler(log_handler)
my_logger.setLevel(logging.INFO)
my_logger.info('doing things')

supervisor = Supervisor(handle_errors=True, logger=my_logger, log_path=r'{log}')
sendgrid_settings = {{
   'from_address': 'me@utah.gov',
   'to_address': 'you@utah.gov',
   'api_key': 'its_a_secret!',
}}
supervisor.add_message_handler(SendGridHandler(sendgrid_settings=sendgrid_settings, project_name='my_project', project_version='1.5.0'))
supervisor.add_message_handler(ConsoleHandler())

#: Do your stuff here...
outcome = 'all good'

summary_message = MessageDetails()
summary_message.subject = 'my_project Update Summary'
summary_message.message = '\\n'.join([f'my_project run at {{datetime.datetime.now()}}', f'Outcome: {{outcome}}'])
summary_message.attachments = r'{log}'

supervisor.notify(summary_message)
"""

FAILING_SCRIPT = """
import logging
from lookout.compat.supervisor import EmailHandler, Supervisor

logging.basicConfig(filename=r'{log}', level=logging.INFO)
my_logger = logging.getLogger('my_project')
my_logger.info('starting the import')
supervisor = Supervisor(handle_errors=True, logger=my_logger, log_path=r'{log}')
supervisor.add_message_handler(EmailHandler({{
    'smtpServer': '127.0.0.1', 'smtpPort': {port}, 'from_address': 'robot@utah.gov',
    'to_addresses': ['ops@utah.gov'], 'prefix': 'my_project'}}))

def do_things():
    raise ValueError('the import broke')

do_things()
"""


def _run(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_supervisor_readme_example(tmp_path: Path, receiver: Receiver) -> None:
    receiver.plan = [(202, {})]
    log = tmp_path / "log.log"
    result = _run(
        textwrap.dedent(SUCCESS_SCRIPT.format(log=log)),
        {"LOOKOUT_SENDGRID_API_URL": receiver.url.rsplit("/", 1)[0]},
    )
    assert result.returncode == 0, result.stderr
    assert "Outcome: all good" in result.stdout  # the ConsoleHandler prints, as the original
    [request] = receiver.requests
    assert request["path"] == "/v3/mail/send"
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    assert headers["Authorization"] == "Bearer its_a_secret!"
    payload = json.loads(request["body"])  # type: ignore[arg-type]
    assert payload["subject"] == "my_project Update Summary"  # no project name in the subject
    assert payload["content"][0]["value"].endswith("\n\nmy_project version: 1.5.0")
    assert payload["personalizations"] == [{"to": [{"email": "you@utah.gov"}]}]
    assert "Outcome: all good" in payload["content"][0]["value"]
    [attachment] = payload["attachments"]
    assert (attachment["filename"], attachment["type"]) == ("log.zip", "application/zip")  # as 3.x
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(attachment["content"]))) as archive:
        assert "doing things" in archive.read("log.log").decode()


def test_supervisor_sends_uncaught_errors_to_every_handler(
    tmp_path: Path,
    smtp_server: tuple[Mailbox, int, list[tuple[str, str]]],
) -> None:
    mailbox, port, _ = smtp_server
    log = tmp_path / "import.log"
    result = _run(textwrap.dedent(FAILING_SCRIPT.format(log=log, port=port)))
    assert result.returncode == 1
    assert "ValueError: the import broke" in result.stderr  # Python's own report
    assert "without TLS" in result.stderr  # the compatibility warning, once
    [(_, recipients, raw)] = mailbox.messages
    assert recipients == ["ops@utah.gov"]
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"].startswith("my_project")  # prefix + subject, no space, as the original
    assert "ValueError: the import broke" in mail["Subject"]
    assert "unknown client version: not specified" in mail.get_body(("plain",)).get_content()
    [attachment] = list(mail.iter_attachments())
    text = gzip.decompress(attachment.get_content()).decode()
    assert "starting the import" in text
    assert "ERROR:my_project" in log.read_text()  # logged at ERROR with the traceback
