"""Monitoring levels per endpoint: off, on, outlier details, profiling; shared via the store."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from lookout import Lookout
from lookout.flask import LookoutFlask
from lookout.flask.levels import EndpointLevels
from lookout.testing import InMemorySink


def busy_work(seconds: float) -> int:
    """Burns CPU in a function whose name the profile must show."""
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        count += 1
    return count


@pytest.fixture
def recorded(sqlite_url: str) -> tuple[Flask, Lookout, InMemorySink]:
    memory = InMemorySink()
    lk = Lookout(store=sqlite_url, sinks=[memory], batch_interval=0.01)
    app = Flask("levels")
    LookoutFlask(app, lk, outlier_warmup=5, sampler_interval=0.002)

    @app.get("/fast")
    def fast() -> str:
        return "fast"

    @app.get("/maybe-slow")
    def maybe_slow() -> str:
        from flask import request

        time.sleep(float(request.args.get("ms", "10")) / 1000)
        return "done"

    @app.get("/cpu")
    def cpu() -> str:
        return str(busy_work(0.15))

    return app, lk, memory


def _names(lk: Lookout, memory: InMemorySink) -> list[str]:
    lk.flush(10)
    return [e.name for e in memory.events if e.kind == "request"]


def test_level_zero_turns_an_endpoint_off_and_back_on(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, memory = recorded
    client = app.test_client()
    LookoutFlask.set_level("fast", 0, app=app)
    client.get("/fast")
    client.get("/cpu")
    LookoutFlask.set_level("fast", 1, app=app)
    client.get("/fast")
    assert _names(lk, memory) == ["cpu", "fast"]
    with pytest.raises(ValueError, match="0, 1, 2 or 3"):
        LookoutFlask.set_level("fast", 7, app=app)
    lk.close()


def test_levels_persist_in_the_store_for_other_processes(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, _ = recorded
    with app.app_context():
        LookoutFlask.set_level("cpu", 3)
    other_process_view = EndpointLevels("levels", lambda: lk.store)
    assert other_process_view.level_of("cpu") == 1  # before it refreshes
    other_process_view.refresh()
    assert other_process_view.level_of("cpu") == 3
    assert other_process_view.level_of("fast") == 1
    assert EndpointLevels("another-app", lambda: lk.store).level_of("cpu") == 1
    lk.close()


def test_outlier_records_headers_args_and_stacks_sampled_while_slow(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, memory = recorded
    client = app.test_client()
    for n in range(8):  # warm-up: normal latency is 10 to 30 ms (threshold about 45 ms)
        client.get(f"/maybe-slow?ms={10 if n % 2 else 30}")
    lk.flush(10)
    hooks = app.extensions["lookout"]
    with pytest.raises(ValueError, match="did you mean 'maybe_slow'"):
        hooks.set_level("maybe-slow", 2)
    hooks.set_level("maybe_slow", 2)
    hooks.levels.refresh()
    assert "maybe_slow" in hooks.levels.thresholds_ns
    client.get("/maybe-slow")  # normal: no outlier details
    client.get("/maybe-slow?ms=300&page=2", headers={"Authorization": "Bearer s3cret"})
    lk.flush(10)
    normal, slow = [e for e in memory.events if e.kind == "request"][-2:]
    assert "outlier" not in normal.fields
    outlier = slow.fields["outlier"]
    assert outlier["threshold_ms"] > 0
    assert outlier["args"] == {"ms": ["300"], "page": ["2"]}
    assert outlier["headers"]["Authorization"] == "[REDACTED]"
    assert outlier["stacks"], "no stack was sampled while the request was slow"
    assert "time.sleep(float(request.args.get" in outlier["stacks"][0]
    assert outlier["stacks"][0].startswith("after ")
    lk.close()


def test_a_refresh_that_read_before_a_change_does_not_undo_it(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin's change must not be put back by a background refresh that was reading the
    store at that moment (it would hold for a whole refresh interval)."""
    import threading

    from lookout.flask import levels as levels_module

    lk = Lookout(store=sqlite_url)
    levels = EndpointLevels("race", lambda: lk.store)
    real_read = levels_module.read_settings
    read_done, go_on = threading.Event(), threading.Event()

    def slow_read(store: object, prefix: str) -> dict[str, str]:
        stored = real_read(store, prefix)  # type: ignore[arg-type]
        read_done.set()
        go_on.wait(5)  # descheduled between reading and applying what it read
        return stored

    monkeypatch.setattr(levels_module, "read_settings", slow_read)
    refresh = threading.Thread(target=levels.refresh)
    refresh.start()
    assert read_done.wait(5)
    change = threading.Thread(target=levels.set_level, args=("checkout", 0))
    change.start()
    time.sleep(0.2)
    go_on.set()
    refresh.join(5)
    change.join(5)
    monkeypatch.setattr(levels_module, "read_settings", real_read)
    assert levels.level_of("checkout") == 0
    levels.refresh()  # and the store agrees
    assert levels.level_of("checkout") == 0
    lk.close()
