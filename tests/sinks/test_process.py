"""ProcessSink: the SQL store written from a helper process, with a real child and SQLite."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from lookout import Lookout, make_event
from lookout.events import Event
from lookout.sinks import process
from lookout.sinks.console import LoggingSink
from lookout.sinks.process import ProcessSink


def _metric(value: int) -> Event:
    return make_event("metric", "x", start_ns=time.time_ns(), fields={"value": value})


def _count(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT count(*) FROM lookout_events")).scalar())
    finally:
        engine.dispose()


@pytest.fixture
def lookout(tmp_path: Path) -> Iterator[Lookout]:
    instance = Lookout(
        store=f"sqlite:///{tmp_path / 'p.db'}",
        store_process=True,
        retry_backoff=0.01,
        spool=False,  # these tests are about the retries in memory
    )
    yield instance
    instance.close()


def _sink(lookout: Lookout) -> ProcessSink:
    [sink] = lookout.sinks
    assert isinstance(sink, ProcessSink)
    return sink


def test_batches_are_written_by_the_child_with_exact_counts(
    lookout: Lookout, tmp_path: Path
) -> None:
    @lookout.monitor
    def charge(n: int) -> int:
        return n

    for n in range(2500):
        charge(n)
    assert lookout.flush(30)
    assert _count(tmp_path / "p.db") == 2500
    stats = lookout.stats()["sinks"]["sql"]
    assert (stats["written"], stats["failed"], stats["dropped"]) == (2500, 0, 0)
    sink = _sink(lookout)
    assert sink._child is not None and sink._child.pid != os.getpid()
    assert "writable (from the writer process" in sink.check()
    assert lookout.store is not None  # reads stay in this process (levels, dashboard)


def test_a_child_that_dies_is_replaced_and_nothing_is_lost(
    lookout: Lookout, tmp_path: Path
) -> None:
    lookout.emit(_metric(1))
    assert lookout.flush(30)
    sink = _sink(lookout)
    first = sink._child
    assert first is not None
    first.kill()
    first.wait()
    for n in range(10):
        lookout.emit(_metric(n))
    assert lookout.flush(30)
    assert sink.starts == 2 and sink._child is not first
    assert _count(tmp_path / "p.db") == 11


def test_a_hung_child_is_killed_and_the_batch_retried(
    lookout: Lookout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookout.emit(_metric(1))
    assert lookout.flush(30)
    sink = _sink(lookout)
    assert sink._child is not None
    monkeypatch.setattr(process, "REPLY_TIMEOUT_S", 0.5)
    os.kill(sink._child.pid, signal.SIGSTOP)  # alive, but never answers
    lookout.emit(_metric(2))
    assert lookout.flush(30)
    stats = lookout.stats()["sinks"]["sql"]
    assert stats["retried"] == 1 and stats["failed"] == 0
    assert "stopped answering (TimeoutError" in stats["last_error"]
    assert _count(tmp_path / "p.db") == 2


def test_write_errors_in_the_child_come_back_as_failures(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with Lookout(
        store=f"sqlite:///{blocker / 'x.db'}",
        store_process=True,
        max_retries=1,
        retry_backoff=0.01,
    ) as instance:
        instance.emit(_metric(1))
        instance.flush(30)
        stats = instance.stats()["sinks"]["sql"]
    assert (stats["failed"], stats["retried"]) == (1, 1)
    assert stats["last_error"].startswith("WriterProcessError: FileExistsError")


def test_close_stops_the_child_and_signals_do_not_kill_it_first(tmp_path: Path) -> None:
    instance = Lookout(store=f"sqlite:///{tmp_path / 'p.db'}", store_process=True)
    instance.emit(_metric(1))
    assert instance.flush(30)
    child = _sink(instance)._child
    assert child is not None
    os.kill(child.pid, signal.SIGTERM)  # a service stop reaching the process group
    os.kill(child.pid, signal.SIGINT)  # a Ctrl-C in the terminal
    time.sleep(0.2)
    assert child.poll() is None
    instance.emit(_metric(2))
    assert instance.close()
    assert child.poll() == 0
    assert _count(tmp_path / "p.db") == 2


def test_only_the_sql_store_runs_in_a_process() -> None:
    with pytest.raises(ValueError, match="only the SQL store"):
        ProcessSink({"type": "http", "url": "http://127.0.0.1:9"})


def _stored_requests(lookout: Lookout) -> list[Event]:
    from lookout.store.tail import events_after

    assert lookout.store is not None
    events, _ = events_after(lookout.store, 0)
    return sorted(
        (event for event in events if event.kind == "request"), key=lambda e: e.request_id or ""
    )


def _serve_requests(lookout: Lookout) -> None:
    from flask import Flask, g

    from lookout.flask import LookoutFlask

    app = Flask("served")
    LookoutFlask(app, lookout, trusted_proxies=1, track_g={"POST": ["user"]})

    @app.route("/items/<int:n>", methods=["GET", "POST"])
    def item(n: int) -> str:
        g.user = n
        if n == 13:
            raise RuntimeError("unlucky")
        return "x" * n

    client = app.test_client()
    for n, method in [(1, "GET"), (2, "GET"), (3, "POST"), (13, "GET")]:
        client.open(
            f"/items/{n}",
            method=method,
            headers={
                "X-Request-ID": f"req-{n}",
                "X-Forwarded-For": f"10.0.0.{n}",
                "User-Agent": "curl/8.0",
            },
        )
    client.get("/nowhere", headers={"X-Request-ID": "req-404"})
    assert lookout.flush(30)


def test_requests_are_stored_alike_here_in_the_writer_process_and_beside_other_sinks(
    tmp_path: Path,
) -> None:
    """One road: every request is an Event, written by the store here or by its writer process
    (a plain request's shared fields cross once per batch), with or without another sink
    taking the same Events. The stored rows are the same in all three cases."""
    stored = {}
    for mode in ("beside a log sink", "here", "in child"):
        instance = Lookout(
            store=f"sqlite:///{tmp_path / f'{mode}.db'}",
            store_process=mode == "in child",
            app_version="7.1",
            sinks=[LoggingSink("lookout.test.silent")] if mode == "beside a log sink" else [],
        )
        try:
            _serve_requests(instance)
            stored[mode] = _stored_requests(instance)
        finally:
            instance.close()

    def comparable(event: Event) -> tuple[object, ...]:
        return event._replace(start_ns=0, duration_ns=0, traceback=None)

    built, here, in_child = stored["beside a log sink"], stored["here"], stored["in child"]
    assert [comparable(event) for event in here] == [comparable(event) for event in built]
    assert [comparable(event) for event in in_child] == [comparable(event) for event in built]
    assert [e.request_id for e in in_child] == ["req-1", "req-13", "req-2", "req-3", "req-404"]
    plain = in_child[0]
    assert (plain.name, plain.status, plain.pid, plain.app_version) == (
        "item",
        200,
        os.getpid(),
        "7.1",
    )
    assert plain.client_ip == "10.0.0.1"  # decided here, with the trusted proxies
    assert plain.fields == {
        "method": "GET",
        "path": "/items/1",
        "rule": "/items/<int:n>",
        "response_bytes": 1,
        "user_agent": "curl",
    }
    assert in_child[1].outcome == "error" and in_child[1].error_type == "RuntimeError"
    assert in_child[3].fields["g"] == {"user": 3}
    assert in_child[4].name == "[unmatched]" and in_child[4].status == 404
    # the start time crossed processes as epoch nanoseconds: it is now, not a perf_counter value
    assert all(abs(time.time_ns() - event.start_ns) < 60e9 for event in in_child)


def test_requests_are_built_here_when_a_setting_redacts_their_fields(tmp_path: Path) -> None:
    instance = Lookout(
        store=f"sqlite:///{tmp_path / 'r.db'}",
        store_process=True,
        redact_keys=["path", "user-agent"],
    )
    try:
        _serve_requests(instance)
        [plain, *_] = _stored_requests(instance)
    finally:
        instance.close()
    assert plain.fields["path"] == "[REDACTED]"
    assert plain.fields["user_agent"] == "[REDACTED]"


def test_the_writer_process_stores_every_request_beside_another_sink(tmp_path: Path) -> None:
    instance = Lookout(
        store=f"sqlite:///{tmp_path / 'o.db'}",
        store_process=True,
        sinks=[LoggingSink()],
    )
    try:
        _serve_requests(instance)
        assert len(_stored_requests(instance)) == 5
    finally:
        instance.close()
