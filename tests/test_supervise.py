"""Supervised scripts, run as real subprocesses: what they record, send, print and return."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lookout import Lookout
from lookout.testing import capture_events
from tests.receivers import Receiver

PRELUDE = """
import logging, sys, threading
from lookout import Lookout
from lookout.notify.webhook import WebhookNotifier
logging.basicConfig(filename={log!r}, level=logging.INFO)
log = logging.getLogger("job")
lk = Lookout(store={store!r}, notifiers=[WebhookNotifier({url!r})])
"""


def run_script(
    tmp_path: Path, receiver: Receiver, body: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    log = str(tmp_path / "job.log")
    script = tmp_path / "job.py"
    script.write_text(
        PRELUDE.format(log=log, store=store, url=receiver.url) + textwrap.dedent(body)
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    return result, store


def runs(store: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(store)
    with engine.connect() as connection:
        rows = (
            connection.execute(
                sa.text(
                    "SELECT n.name, e.is_error, e.status, e.fields, e.error_type FROM lookout_events e "
                    "JOIN lookout_names n ON n.id = e.name_id WHERE n.kind = 'run'"
                )
            )
            .mappings()
            .all()
        )
    engine.dispose()
    return [dict(row) for row in rows]


def messages(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request["body"]) for request in receiver.requests]  # type: ignore[arg-type]


def test_a_failing_script_is_recorded_notified_and_still_fails(
    tmp_path: Path, receiver: Receiver
) -> None:
    result, store = run_script(
        tmp_path,
        receiver,
        """
        with lk.supervise("nightly-import", log_path=log.root.handlers[0].baseFilename,
                          logger=log, fields={"source": "ftp"}) as run:
            log.info("starting")
            run.summary("12 files fetched")
            raise ValueError("row 7 is malformed")
        """,
    )
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: row 7 is malformed" in result.stderr  # Python's own report, unchanged
    [run] = runs(store)
    assert (run["name"], run["is_error"], run["status"], run["error_type"]) == (
        "nightly-import",
        1,
        1,
        "ValueError",
    )
    assert json.loads(run["fields"]) == {"source": "ftp", "summary": "12 files fetched"}
    [message] = messages(receiver)
    assert message["subject"] == "nightly-import failed: ValueError: row 7 is malformed"
    assert message["severity"] == "error"
    assert "raise ValueError" in message["body"] and "12 files fetched" in message["body"]
    [attachment] = message["attachments"]
    log_text = (tmp_path / "job.log").read_text()
    assert "starting" in log_text and "nightly-import failed" in log_text  # logged at ERROR
    import base64

    attached = gzip.decompress(base64.b64decode(attachment["content_base64"])).decode()
    assert "INFO:job:starting" in attached


def test_an_uncaught_error_after_start_goes_through_the_excepthook(
    tmp_path: Path, receiver: Receiver
) -> None:
    result, store = run_script(
        tmp_path,
        receiver,
        """
        supervisor = lk.supervise("long-script", send_summary=False).start()
        def step():
            return {}["missing"]
        step()
        """,
    )
    assert result.returncode == 1
    assert "KeyError: 'missing'" in result.stderr and "in step" in result.stderr
    [run] = runs(store)
    assert (run["is_error"], run["error_type"]) == (1, "KeyError")
    [message] = messages(receiver)
    assert message["subject"] == "long-script failed: KeyError: 'missing'"


def test_a_successful_script_sends_one_summary(tmp_path: Path, receiver: Receiver) -> None:
    result, store = run_script(
        tmp_path,
        receiver,
        """
        @lk.supervise("report", schedule="0 6 * * *")
        def main():
            print("done")
        main()
        """,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "done")
    [run] = runs(store)
    assert (run["is_error"], run["status"]) == (0, 0)
    assert json.loads(run["fields"]) == {"schedule": "0 6 * * *"}
    [message] = messages(receiver)
    assert message["subject"].startswith("report succeeded in ")
    assert message["severity"] == "info"


def test_sys_exit_code_is_the_runs_status(tmp_path: Path, receiver: Receiver) -> None:
    result, store = run_script(
        tmp_path,
        receiver,
        """
        with lk.supervise("exits", send_summary=False):
            sys.exit(3)
        """,
    )
    assert result.returncode == 3
    [run] = runs(store)
    assert (run["is_error"], run["status"]) == (1, 3)


def test_thread_errors_are_notified_and_hooks_restored() -> None:
    before = (sys.excepthook, threading.excepthook)
    sent: list[str] = []

    class Collect:
        name = "collect"

        def send(self, message: Any) -> None:
            sent.append(message.subject)

    with capture_events() as events:
        lk = events.lookout
        previous_calls: list[str] = []
        threading.excepthook = lambda args: previous_calls.append(args.thread.name)  # type: ignore[union-attr]
        try:
            with lk.supervise("threads", notifiers=[Collect()], send_summary=False):
                worker = threading.Thread(target=lambda: 1 / 0, name="worker-1")
                worker.start()
                worker.join()
            assert threading.excepthook is not None
            assert sys.excepthook is before[0]
        finally:
            restored = threading.excepthook
            threading.excepthook = before[1]
        [run] = [event for event in events.refresh() if event.kind == "run"]
    assert previous_calls == ["worker-1"]  # the hook in place before is still called
    assert restored.__name__ == "<lambda>"  # ...and put back afterwards
    assert sent == ["threads: uncaught error in thread worker-1"]
    assert run.outcome == "error" and run.fields["thread_errors"] == 1


def test_handle_errors_false_leaves_the_hooks_alone() -> None:
    before = (sys.excepthook, threading.excepthook)
    lk = Lookout(store=None)
    with lk.supervise("quiet", handle_errors=False, send_summary=False):
        assert (sys.excepthook, threading.excepthook) == before
    lk.close()


def test_a_bad_schedule_is_refused_at_once() -> None:
    lk = Lookout(store=None)
    with pytest.raises(ValueError, match="not a cron expression"):
        lk.supervise("job", schedule="61 * * * *")
    lk.close()
