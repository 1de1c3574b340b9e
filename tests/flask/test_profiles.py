"""Level 3's profiles: from the view's own frame down to the line, never a negative duration,
merged over requests from a real SQLite store; outliers carry CPU time and memory."""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from lookout import Lookout
from lookout.flask import LookoutFlask
from lookout.flask.sampler import OUTSIDE_VIEW, StackSampler, WatchedRequest, fold, rss_bytes
from lookout.store.profiles import CallNode, add_profile, parse_frame, profiled
from lookout.testing import InMemorySink
from tests.flask.test_levels import busy_work as spin

HERE = "test_profiles.py"
PULSE = f"{HERE}:pulse"


def pulse(seconds: float) -> None:
    """Burns CPU in short bursts with pauses between: a view that held the GIL throughout
    would let the sampler in only every switch interval, less on a loaded machine."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        spin(0.001)
        time.sleep(0.001)


def lines_of(function: Callable[..., Any], *needles: str) -> set[int]:
    source, first = inspect.getsourcelines(function)
    return {first + n for n, text in enumerate(source) if any(x in text for x in needles)}


def nap(seconds: float) -> None:
    time.sleep(seconds)


def logged(view: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator, as apps put around views: the profile starts at the registered view."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper


@pytest.fixture
def recorded(sqlite_url: str) -> Iterator[tuple[Flask, Lookout, InMemorySink]]:
    memory = InMemorySink()
    lk = Lookout(store=sqlite_url, sinks=[memory], batch_interval=0.01)
    app = Flask("profiles")
    LookoutFlask(app, lk, outlier_warmup=5, sampler_interval=0.002)

    @app.get("/cpu")
    def cpu() -> str:
        pulse(0.12)
        return "cpu"

    @app.get("/mixed")
    @logged
    def mixed() -> str:
        pulse(0.06)
        nap(0.06)
        return "done"

    @app.get("/slow")
    def slow() -> str:
        from flask import request

        if request.args.get("how") == "cpu":
            spin(float(request.args.get("ms", "5")) / 1000)
        else:
            nap(float(request.args.get("ms", "5")) / 1000)
        return "done"

    @app.get("/fast")
    def fast() -> str:
        return "fast"

    yield app, lk, memory
    lk.close()


def _requests(lk: Lookout, memory: InMemorySink) -> list[Any]:
    lk.flush(10)
    return [e for e in memory.events if e.kind == "request"]


def _walk(node: CallNode) -> Iterator[CallNode]:
    yield node
    for child in node.children.values():
        yield from _walk(child)


def test_a_profile_starts_at_the_view_and_goes_down_to_the_line(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, memory = recorded
    app.extensions["lookout"].set_level("cpu", 3)
    app.test_client().get("/cpu")
    [event] = _requests(lk, memory)
    profile = event.fields["profile"]
    in_view = [entry for entry in profile if not entry[0].startswith(OUTSIDE_VIEW)]
    assert in_view, profile
    for path, ms, samples in profile:
        assert ms > 0 and samples >= 1
        first = path.split(";")[0]
        assert first == OUTSIDE_VIEW or parse_frame(first)[0].endswith(
            f"{HERE}:recorded.<locals>.cpu"
        ), path
        # no server, WSGI or Flask frame above the view
        assert "werkzeug/" not in path and "flask/app.py" not in path, path
    lines = {
        parse_frame(frame)[1]
        for path, _, _ in in_view
        for frame in path.split(";")
        if parse_frame(frame)[0].endswith(PULSE)
    }
    expected = lines_of(pulse, "perf_counter() <", "spin(", "sleep(")
    assert lines and lines <= expected, (lines, expected)
    spent = sum(ms for path, ms, _ in in_view if f"{PULSE}:" in path)
    wall_ms = event.duration_ns / 1e6
    assert 0.7 * 120 <= spent <= wall_ms  # pulse ran for 120 ms, within the request
    samples = sum(n for _, _, n in profile)
    assert 5 <= samples <= wall_ms / 2 + 1  # one sample per 2 ms at most
    assert event.fields["profile_cpu_ms"] > 0


def test_a_decorated_view_starts_at_the_registered_function(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, memory = recorded
    app.extensions["lookout"].set_level("mixed", 3)
    app.test_client().get("/mixed")
    [event] = _requests(lk, memory)
    roots = {parse_frame(path.split(";")[0])[0] for path, _, _ in event.fields["profile"]}
    wrapper = f"{HERE}:logged.<locals>.wrapper"
    assert any(root.endswith(wrapper) for root in roots), roots
    assert all(root == OUTSIDE_VIEW or root.endswith(wrapper) for root in roots), roots
    tree = CallNode("mixed")
    add_profile(tree, event.fields["profile"])
    names = {node.frame.rsplit(":", 1)[-1].split(".")[-1] for node in _walk(tree)}
    assert {"mixed", "pulse", "nap"} <= names, names


def test_profiles_merge_over_requests_from_the_store(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, memory = recorded
    app.extensions["lookout"].set_level("mixed", 3)
    client = app.test_client()
    for _ in range(3):
        client.get("/mixed")
    client.get("/fast")  # level 1: no profile
    events = _requests(lk, memory)
    assert lk.store is not None
    found = profiled(lk.store, "mixed", since_s=600)
    assert found.requests == 3 and not found.truncated
    root = found.root
    wall = sum(e.duration_ns for e in events if e.name == "mixed") / 1e6
    assert 3 * 120 * 0.7 <= root.total_ms <= wall  # sampled time is within the requests'
    assert found.wall_ms == pytest.approx(wall, rel=1e-6)
    assert found.cpu_ms is not None and 0 < found.cpu_ms < found.wall_ms
    for node in _walk(root):
        assert node.total_ms >= 0 and node.self_ms >= 0 and node.samples >= 0
        below = sum(child.total_ms for child in node.children.values())
        assert node.total_ms == pytest.approx(node.self_ms + below, abs=1e-6)
        if node.lines:
            assert sum(node.lines.values()) == pytest.approx(node.total_ms, abs=1e-6)
    by_name = {node.frame.rsplit(":", 1)[-1].split(".")[-1]: node for node in _walk(root)}
    spin_node, nap_node, view = by_name["pulse"], by_name["nap"], by_name["mixed"]
    assert 3 * 60 * 0.6 <= spin_node.total_ms <= wall
    assert 3 * 60 * 0.6 <= nap_node.total_ms <= wall
    assert view.total_ms >= spin_node.total_ms + nap_node.total_ms - 1e-6
    # one node per function, its lines the breakdown: the view called spin and nap on 2 lines
    pulse_lines = lines_of(pulse, "perf_counter() <", "spin(", "sleep(")
    assert len(view.lines) >= 2 and set(spin_node.lines) <= pulse_lines
    # and the code of each line, read by the sampler thread
    source, first = inspect.getsourcelines(pulse)
    for line, code in spin_node.code.items():
        assert code == source[line - first].strip()
    assert set(view.code.values()) <= {"pulse(0.06)", "nap(0.06)", 'return "done"'}, view.code
    assert view.code, "no line of the view has its code"
    tree = root.to_dict()
    assert tree["frame"] == "mixed" and tree["samples"] == sum(
        n for e in events if e.name == "mixed" for _, _, n in e.fields["profile"]
    )
    assert profiled(lk.store, "fast", since_s=600).requests == 0
    assert profiled(lk.store, "mixed", since_s=600, limit=2).truncated


def test_a_request_watched_after_the_clock_reading_gets_no_negative_time() -> None:
    """The sampler used to read the clock, then list the requests: one registered in between
    started after the reading, and its first sample was timed negative."""
    sampler = StackSampler(interval=60)  # no background thread samples: this test does
    started = threading.Event()
    done = threading.Event()

    def request_thread() -> None:
        started.set()
        done.wait(5)

    worker = threading.Thread(target=request_thread)
    worker.start()
    started.wait(5)
    assert worker.ident is not None
    # started "after" the sampler's clock reading: 300 ms in the future
    watched = WatchedRequest(time.perf_counter_ns() + 300_000_000, None, profile=True)
    sampler.watch(worker.ident, watched)
    sampler.stop()
    sampler.sample()
    assert watched.profile == {}
    time.sleep(0.35)
    sampler.sample()
    done.set()
    worker.join(5)
    assert watched.profile and all(ms > 0 and n == 1 for ms, n in watched.profile.values())


def test_concurrent_requests_never_record_a_negative_duration(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, memory = recorded
    app.extensions["lookout"].set_level("slow", 3)
    client = app.test_client()

    def burst() -> None:
        for n in range(25):
            client.get(f"/slow?ms={1 + n % 4}&how={'cpu' if n % 2 else 'sleep'}")

    threads = [threading.Thread(target=burst) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    events = _requests(lk, memory)
    assert len(events) == 150
    entries = [entry for e in events for entry in e.fields.get("profile", [])]
    assert entries and all(ms > 0 and n >= 1 for _, ms, n in entries)
    assert lk.store is not None
    for node in _walk(profiled(lk.store, "slow", since_s=600).root):
        assert node.total_ms >= 0 and node.self_ms >= 0


def test_stored_negative_or_broken_entries_are_left_out() -> None:
    """Profiles recorded before the fix may hold negative times: reading drops them."""
    root = CallNode("old")
    add_profile(
        root,
        [
            ["views.py:search", -1.6],
            ["views.py:search;db.py:query", 4.0],
            ["views.py:search:12;db.py:query:30", 2.0, 1],
            ["bad", "12"],
            ["nan", float("nan")],
            "not an entry",
        ],
    )
    assert root.total_ms == pytest.approx(6.0)
    view = root.children["views.py:search"]
    assert view.self_ms == 0 and view.total_ms == pytest.approx(6.0)
    assert view.lines == {12: 2.0}
    assert root.samples == 2  # an old entry without a count is one sample
    assert all(node.total_ms >= 0 and node.self_ms >= 0 for node in _walk(root))


def test_outliers_carry_cpu_time_and_memory(
    recorded: tuple[Flask, Lookout, InMemorySink],
) -> None:
    app, lk, memory = recorded
    client = app.test_client()
    for n in range(8):  # warm-up: 5 to 15 ms
        client.get(f"/slow?ms={5 if n % 2 else 15}")
    lk.flush(10)
    hooks = app.extensions["lookout"]
    hooks.set_level("slow", 2)
    hooks.levels.refresh()
    assert "slow" in hooks.levels.thresholds_ns  # computed from the warm-up requests
    # then pinned, so that a loaded machine cannot move it: the refresher is stopped first
    hooks.levels.stop()
    hooks.levels._refresh_thread.join(15)
    hooks.levels.thresholds_ns = {"slow": 150_000_000}
    client.get("/slow?ms=400&how=cpu")
    client.get("/slow?ms=400&how=sleep")
    client.get("/slow?ms=5")
    busy, sleepy, normal = _requests(lk, memory)[-3:]
    assert "outlier" not in normal.fields and "profile" not in normal.fields
    cpu_busy = busy.fields["outlier"]["cpu_ms"]
    cpu_sleepy = sleepy.fields["outlier"]["cpu_ms"]
    # CPU time, not wall-clock time: a sleeping request uses little of it
    assert 0 < cpu_sleepy < 0.5 * sleepy.duration_ns / 1e6
    assert cpu_busy > 2 * cpu_sleepy and cpu_busy <= busy.duration_ns / 1e6 * 1.05
    # the stacks sampled while slow start at the view too
    stack = sleepy.fields["outlier"]["stacks"][0]
    assert "werkzeug" not in stack and "flask/app.py" not in stack, stack
    assert stack.splitlines()[1].strip().endswith(", in slow"), stack
    assert "in nap" in stack and "time.sleep(seconds)" in stack, stack
    now = rss_bytes()
    assert now is not None
    for event in (busy, sleepy):
        rss = event.fields["outlier"]["memory_rss_bytes"]
        assert rss > 10 * 2**20 and abs(rss - now) < 0.5 * now  # this process's, then


def test_fold_without_the_view_frame_on_the_stack() -> None:
    frame = inspect.currentframe()
    assert fold(frame, None).startswith(f"{OUTSIDE_VIEW};")
    code = test_fold_without_the_view_frame_on_the_stack.__code__
    path, line = fold(frame, code), inspect.currentframe().f_lineno  # type: ignore[union-attr]
    assert ";" not in path  # this frame is the "view": nothing above it is kept
    assert parse_frame(path) == (f"{parse_frame(path)[0]}", line)
    assert parse_frame(path)[0].endswith(f"{HERE}:test_fold_without_the_view_frame_on_the_stack")


def test_frames_too_small_to_draw_are_folded_into_one() -> None:
    root = CallNode("wide")
    profile: list[list[Any]] = [["views.py:index:3;work.py:big:9", 100.0, 50]]
    profile += [[f"views.py:index:4;tiny.py:t{n}:1", 0.01, 1] for n in range(50)]
    add_profile(root, profile)
    tree = root.to_dict(min_ms=root.total_ms * 0.001)
    [view] = tree["children"]  # type: ignore[misc]
    names = [child["frame"] for child in view["children"]]
    assert names == ["work.py:big", "(50 smaller frames)"]
    rest = view["children"][1]
    assert rest["total_ms"] == rest["self_ms"] == pytest.approx(0.5) and rest["samples"] == 50
    assert rest["file"] is None and rest["children"] == []
    below = sum(child["total_ms"] for child in view["children"])
    assert view["total_ms"] == pytest.approx(view["self_ms"] + below)
    assert len(root.to_dict()["children"][0]["children"]) == 51  # type: ignore[index]
