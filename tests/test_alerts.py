"""Alert rules with an injected clock: firing, throttling, resolution, heartbeats, and the
in-process path from a failing function to a delivered message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lookout import Lookout, make_event
from lookout.alerts import (
    AlertEngine,
    ErrorRate,
    LatencyP95,
    MissedHeartbeat,
    OnError,
    parse_schedule,
)
from lookout.config import ConfigError
from lookout.events import Event
from lookout.notify.webhook import WebhookNotifier
from tests.receivers import Receiver

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.bodies: list[str] = []

    def send(self, message: Any) -> None:
        self.subjects.append(message.subject)
        self.bodies.append(message.body)


def _event(
    clock: Clock, name: str = "jobs.sync", *, error: bool = False, ms: float = 5, **kw: Any
) -> Event:
    return make_event(
        kw.pop("kind", "call"),
        name,
        start_ns=int(clock.now * 1e9),
        duration_ns=int(ms * 1e6),
        outcome="error" if error else "ok",
        **kw,
    )


@pytest.fixture
def setup() -> Any:
    clock, inbox = Clock(), Collect()
    lk = Lookout(store=None, notifiers=[inbox])
    yield clock, inbox, lk
    lk.close()


def test_on_error_fires_throttles_reminds_and_resolves(setup: Any) -> None:
    clock, inbox, lk = setup
    engine = AlertEngine(lk, [OnError(window="10m")], clock=clock)
    engine.observe([_event(clock, error=True)])
    assert [m.subject for m in engine.evaluate()] == ["[ALERT] error: jobs.sync"]
    for _ in range(4):  # within the throttle window: held back
        clock.now += 60
        engine.observe([_event(clock, error=True)])
        assert engine.evaluate() == []
    clock.now += 400  # past the throttle, with a new error
    engine.observe([_event(clock, error=True)])
    [reminder] = engine.evaluate()
    assert reminder.subject == "[ALERT] error: jobs.sync (still)"
    assert "5 occurrence(s) since the last message, 4 held back by throttling" in reminder.body
    clock.now += 601  # a quiet window
    [resolved] = engine.evaluate()
    assert resolved.subject == "[RESOLVED] error: jobs.sync" and resolved.severity == "resolved"
    assert engine.evaluate() == []
    assert engine.describe()["firing"] == []
    recent = [m["subject"] for m in engine.describe()["recent"]]
    assert recent == [
        "[RESOLVED] error: jobs.sync",
        "[ALERT] error: jobs.sync (still)",
        "[ALERT] error: jobs.sync",
    ]
    assert inbox.subjects == [
        "[ALERT] error: jobs.sync",
        "[ALERT] error: jobs.sync (still)",
        "[RESOLVED] error: jobs.sync",
    ]


def test_error_rate_needs_enough_events_and_a_high_rate(setup: Any) -> None:
    clock, _, lk = setup
    engine = AlertEngine(
        lk, [ErrorRate(0.1, window="5m", min_events=20, names=["api.*"])], clock=clock
    )
    engine.observe([_event(clock, "api.search", error=n % 3 == 0) for n in range(10)])
    assert engine.evaluate() == []  # 40 % but only 10 events
    engine.observe([_event(clock, "api.search") for _ in range(15)])
    engine.observe([_event(clock, "other", error=True) for _ in range(50)])  # not watched
    [alert] = engine.evaluate()
    assert alert.subject == "[ALERT] error_rate: api.search"
    assert "16.0% of 25 failed" in alert.body
    clock.now += 301
    engine.observe([_event(clock, "api.search") for _ in range(30)])
    [resolved] = engine.evaluate()
    assert resolved.subject == "[RESOLVED] error_rate: api.search"


def test_latency_p95_over_threshold(setup: Any) -> None:
    clock, _, lk = setup
    engine = AlertEngine(lk, [LatencyP95(100, window="1m", min_events=10)], clock=clock)
    engine.observe([_event(clock, "checkout", kind="request", ms=50) for _ in range(19)])
    engine.observe([_event(clock, "checkout", kind="request", ms=900)])
    assert engine.evaluate() == []  # 1 slow in 20 (5 %): the p95 is still 50 ms
    engine.observe([_event(clock, "checkout", kind="request", ms=900) for _ in range(3)])
    [alert] = engine.evaluate()
    assert alert.subject == "[ALERT] latency_p95: checkout" and "p95 900.0 ms" in alert.body


def test_missed_heartbeat_interval_and_cron(setup: Any) -> None:
    clock, _, lk = setup
    engine = AlertEngine(lk, [MissedHeartbeat(grace="5m")], clock=clock)
    engine.observe(
        [
            _event(clock, "hourly", kind="run", fields={"schedule": "1h"}),
            _event(clock, "nightly", kind="run", fields={"schedule": "0 3 * * *"}),
            _event(clock, "adhoc", kind="run"),  # no schedule: never expected
        ]
    )
    clock.now += 3600 + 200
    assert engine.evaluate() == []  # within the grace
    clock.now += 200
    [late] = engine.evaluate()
    assert late.subject == "[ALERT] missed_run: hourly"
    assert "expected by 2027-01-15 09:00:00 UTC" in late.body
    engine.observe([_event(clock, "hourly", kind="run", fields={"schedule": "1h"})])
    [back] = engine.evaluate()
    assert back.subject == "[RESOLVED] missed_run: hourly"
    clock.now = T0 + 20 * 3600  # the next day 04:00 UTC: the 03:00 run is an hour late
    subjects = {m.subject for m in engine.evaluate()}
    assert "[ALERT] missed_run: nightly" in subjects


def test_schedules_parse_intervals_and_cron() -> None:
    assert parse_schedule("15m").next_after(T0) == T0 + 900
    assert parse_schedule(60).next_after(T0) == T0 + 60
    assert parse_schedule("30 8 * * *").next_after(T0) == T0 + 1800
    with pytest.raises(ValueError, match="not a cron expression"):
        parse_schedule("* * * *  99")


def test_in_process_alerts_reach_a_notifier(receiver: Receiver) -> None:
    lk = Lookout(
        store=None,
        batch_interval=0.01,
        notifiers=[WebhookNotifier(receiver.url)],
        alert_rules=[OnError(names=["billing.*"])],
    )

    @lk.monitor(name="billing.charge")
    def charge(amount: int) -> None:
        raise RuntimeError(f"card declined for {amount}")

    for amount in (10, 20):
        with pytest.raises(RuntimeError):
            charge(amount)
    assert lk.flush(10)
    lk.close()
    [message] = [json.loads(r["body"]) for r in receiver.requests]  # type: ignore[arg-type]
    assert message["subject"] == "[ALERT] error: billing.charge"
    assert "RuntimeError: card declined" in message["body"]


def test_rules_from_configuration(tmp_path: Any) -> None:
    config = tmp_path / "lookout.toml"
    config.write_text(
        '[[alerts]]\ntype = "error_rate"\nthreshold = 0.2\nwindow = "10m"\n'
        '[[alerts]]\ntype = "missed_run"\ngrace = "15m"\n'
    )
    lk = Lookout(store=None, config_file=config)
    assert lk.alerts is not None
    assert [rule.rule_id for rule in lk.alerts.rules] == [
        "error_rate(> 20% over 600s)",
        "missed_run(grace 900s)",
    ]
    lk.close()
    config.write_text('[[alerts]]\ntype = "error_rate"\nthreshold = 3\n')
    with pytest.raises(
        ConfigError, match=r"config file .*: alerts\[1\]: .*threshold is a fraction"
    ):
        Lookout(store=None, config_file=config)


def test_a_bad_rule_is_refused_by_the_lookout_that_builds_it_naming_its_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings check the alerts' shape (tables with a type); the rules are the Lookout's."""
    from lookout.config import load_settings

    rules = '[{"type": "error"}, {"type": "nope"}]'
    settings, _ = load_settings({}, environ={"LOOKOUT_ALERTS": rules})
    assert settings.alerts == ({"type": "error"}, {"type": "nope"})
    with pytest.raises(ConfigError, match="expected a list of alert tables, each with a 'type'"):
        load_settings({}, environ={"LOOKOUT_ALERTS": '[{"threshold": 1}]'})
    monkeypatch.setenv("LOOKOUT_ALERTS", rules)
    with pytest.raises(
        ConfigError,
        match=r"environment variable LOOKOUT_ALERTS: alerts\[2\]: alert type 'nope' is unknown",
    ):
        Lookout(store=None)


def test_lookout_watch_notices_a_missed_run_in_the_store(tmp_path: Any, receiver: Receiver) -> None:
    import time as time_module

    from tests.test_cli import lookout_cli

    store = f"sqlite:///{tmp_path / 'central.db'}"
    lk = Lookout(store=store)
    two_hours_ago = time_module.time_ns() - 2 * 3600 * 10**9
    lk.emit(make_event("run", "hourly-sync", start_ns=two_hours_ago, fields={"schedule": "1h"}))
    lk.emit(make_event("run", "daily-report", start_ns=two_hours_ago, fields={"schedule": "1d"}))
    lk.close()
    env = {
        "LOOKOUT_ALERTS": json.dumps([{"type": "missed_run", "grace": "10m"}]),
        "LOOKOUT_NOTIFIERS": json.dumps([{"type": "webhook", "url": receiver.url}]),
    }
    result = lookout_cli("watch", "--store", store, "--once", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent: [ALERT] missed_run: hourly-sync" in result.stdout
    [message] = [json.loads(r["body"]) for r in receiver.requests]  # type: ignore[arg-type]
    assert message["subject"] == "[ALERT] missed_run: hourly-sync"
    no_rules = lookout_cli("watch", "--store", store, "--once")
    assert no_rules.returncode == 2 and "no alert rules" in no_rules.stderr


def test_a_forked_child_evaluates_alerts_too(receiver: Receiver) -> None:
    import contextlib
    import multiprocessing
    import os

    lk = Lookout(
        store=None,
        batch_interval=0.01,
        notifiers=[WebhookNotifier(receiver.url)],
        alert_rules=[OnError(names=["child.*"])],
    )
    assert lk.alerts is not None

    def child() -> None:
        failing = lk.monitor(name="child.job")(lambda: 1 / 0)
        with contextlib.suppress(ZeroDivisionError):
            failing()
        assert lk.alerts is not None and lk.alerts._thread is not None  # restarted here
        lk.flush(10)
        os._exit(0)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(30)
    lk.close()
    assert process.exitcode == 0
    [message] = [json.loads(r["body"]) for r in receiver.requests]  # type: ignore[arg-type]
    assert message["subject"] == "[ALERT] error: child.job"


def test_lookout_watch_judges_the_whole_window_not_only_since_its_start(
    tmp_path: Any, receiver: Receiver
) -> None:
    """An error rate over the last hour counts the hour's events already in the store."""
    import time as time_module

    from tests.test_cli import lookout_cli

    store = f"sqlite:///{tmp_path / 'history.db'}"
    lk = Lookout(store=store)
    now_ns = time_module.time_ns()
    for index in range(400):  # 10 % failed, spread over the last 50 minutes
        lk.emit(
            make_event(
                "call",
                "billing.charge",
                start_ns=now_ns - (index * 7_500) * 10**6,
                duration_ns=10**6,
                outcome="error" if index % 10 == 0 else "ok",
            )
        )
    lk.emit(make_event("call", "billing.charge", start_ns=now_ns - 2 * 3600 * 10**9))  # too old
    lk.close()
    env = {
        "LOOKOUT_ALERTS": json.dumps([{"type": "error_rate", "threshold": 0.05, "window": "1h"}]),
        "LOOKOUT_NOTIFIERS": json.dumps([{"type": "webhook", "url": receiver.url}]),
    }
    result = lookout_cli("watch", "--store", store, "--once", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    [message] = [json.loads(r["body"]) for r in receiver.requests]  # type: ignore[arg-type]
    assert message["subject"] == "[ALERT] error_rate: billing.charge"
    assert "of 400" in message["body"], message["body"]
