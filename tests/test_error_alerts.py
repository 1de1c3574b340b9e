"""Alert rules on error groups: a new group and a regression, through a Lookout's notifiers,
once and throttled, over a real SQLite store written by the Lookout itself."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lookout import Lookout
from lookout.alerts import AlertEngine, build_rule
from lookout.error_alerts import ErrorRegression, NewErrorGroup
from lookout.events import ERROR, Event
from lookout.sinks.sql import SqlSink
from lookout.store.error_groups import set_status
from tests.test_alerts import Collect


def _lookout(url: str, inbox: Collect, *rules: Any) -> tuple[Lookout, AlertEngine]:
    """A Lookout writing the store, and an engine over its rules sending through the Lookout's
    notifiers, evaluated only when the test says (the Lookout's own engine also evaluates
    after every batch and every 15 s, which would make the throttling's timing the test's)."""
    lk = Lookout(store=url, batch_interval=0.01, notifiers=[inbox])
    return lk, AlertEngine(lk, list(rules))


def _failing(lk: Lookout, name: str = "shop.lookup") -> Any:
    @lk.monitor(name=name)
    def lookup(sku: str) -> int:
        prices: dict[str, int] = {}
        return prices[sku]

    return lookup


def _fail(call: Any, times: int) -> None:
    for n in range(times):
        with pytest.raises(KeyError):
            call(f"sku-{n}")


def test_a_new_group_alerts_once_then_throttled_then_resolved(sqlite_url: str) -> None:
    inbox = Collect()
    rule = NewErrorGroup(window="1h", throttle="10m")
    lk, engine = _lookout(sqlite_url, inbox, rule)
    lookup = _failing(lk)
    _fail(lookup, 3)
    assert lk.flush(10)
    engine.evaluate()
    assert len(inbox.subjects) == 1
    assert inbox.subjects[0].startswith("[ALERT] new_error_group: KeyError in ")
    assert "test_error_alerts.lookup" in inbox.subjects[0]
    assert "3 occurrence(s)" in inbox.bodies[0]
    _fail(lookup, 5)  # more of the same group within the throttle: no new message
    assert lk.flush(10)
    engine.evaluate()
    engine.evaluate()
    assert len(inbox.subjects) == 1
    _fail(lookup, 1)
    assert lk.flush(10)
    engine.evaluate(time.time() + 11 * 60)  # after the throttle: one follow-up with counts
    assert inbox.subjects[1].endswith("(still)")
    assert "6 occurrence(s) since the last message, 5 held back by throttling" in inbox.bodies[1]
    engine.evaluate(time.time() + 2 * 3600)  # a window after it appeared: resolved
    assert inbox.subjects[2].startswith("[RESOLVED] new_error_group: KeyError")
    assert len(inbox.subjects) == 3
    lk.close()


def test_groups_that_existed_before_are_not_new(sqlite_url: str) -> None:
    sink = SqlSink(sqlite_url)
    sink.write(
        [
            Event(
                "call",
                "old.job",
                time.time_ns() - 10**9,
                10,
                ERROR,
                error_type="TimeoutError",
                error_message="timed out after 30 s",
            )
        ]
    )
    sink.close()
    inbox = Collect()
    lk, engine = _lookout(sqlite_url, inbox, NewErrorGroup(names=["KeyError"]))
    lookup = _failing(lk)
    slow = lk.monitor(name="old.job")(lambda: (_ for _ in ()).throw(TimeoutError("timed out")))
    with pytest.raises(TimeoutError):
        slow()
    _fail(lookup, 1)
    assert lk.flush(10)
    engine.evaluate()
    # the TimeoutError group is older than the rule (and not a KeyError): only the new one
    assert [s.split(": ", 1)[1].split(" in ")[0] for s in inbox.subjects] == ["KeyError"]
    lk.close()


def test_a_resolved_group_that_recurs_alerts_as_a_regression_once(sqlite_url: str) -> None:
    inbox = Collect()
    lk, engine = _lookout(sqlite_url, inbox, ErrorRegression(throttle="1h"))
    lookup = _failing(lk)
    _fail(lookup, 2)
    assert lk.flush(10)
    assert lk.store is not None
    engine.evaluate()
    assert inbox.subjects == []  # a new group is no regression
    with lk.store.read_engine.connect() as connection:
        group_id = connection.exec_driver_sql("SELECT id FROM lookout_error_groups").scalar_one()
    assert set_status(lk.store.engine, group_id, "resolved")
    engine.evaluate()
    assert inbox.subjects == []
    _fail(lookup, 2)
    assert lk.flush(10)
    engine.evaluate()
    engine.evaluate()
    assert len(inbox.subjects) == 1
    assert inbox.subjects[0].startswith("[ALERT] error_regression: KeyError in ")
    assert "occurred again" in inbox.bodies[0] and "after it was resolved" in inbox.bodies[0]
    lk.close()


def test_rules_from_configuration() -> None:
    rule = build_rule({"type": "new_error_group", "window": "30m", "names": ["shop.*"]})
    assert isinstance(rule, NewErrorGroup) and rule.window == 1800
    assert isinstance(build_rule({"type": "error_regression"}), ErrorRegression)
    with pytest.raises(ValueError, match="new_error_group"):
        build_rule({"type": "new_error_group", "threshold": 2})


def test_a_lookout_configured_with_the_rule_alerts_through_its_notifiers(sqlite_url: str) -> None:
    inbox = Collect()
    lk = Lookout(
        store=sqlite_url,
        batch_interval=0.01,
        notifiers=[inbox],
        alerts=[{"type": "new_error_group", "throttle": "1h"}],
    )
    _fail(_failing(lk), 4)
    assert lk.flush(10)
    assert lk.alerts is not None
    for _ in range(50):  # its own evaluations (after each batch) and ours may both run
        lk.alerts.evaluate()
        if inbox.subjects:
            break
        time.sleep(0.1)
    _fail(_failing(lk), 2)
    assert lk.flush(10)
    lk.alerts.evaluate()
    assert len(inbox.subjects) == 1  # once, then throttled
    assert inbox.subjects[0].startswith("[ALERT] new_error_group: KeyError in ")
    lk.close()
