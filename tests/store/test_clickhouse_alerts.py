"""``lookout watch`` and the alert rules over a ClickHouse store (the real 18.16 server): the
rules' window read from the store's history, new rows followed by the time they were
written, missed runs, and the error-group rules over the server-merged groups."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")

from lookout import Lookout, make_event
from lookout.alerts import AlertEngine
from lookout.config import Settings
from lookout.error_alerts import ErrorRegression, NewErrorGroup
from lookout.store.clickhouse import errors, tail
from lookout.store.clickhouse.sink import ClickHouseSink
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.watch import StoreWatcher
from tests.receivers import Receiver
from tests.test_alerts import Collect
from tests.test_cli import lookout_cli

NS = 1_000_000_000


def test_lookout_watch_judges_the_window_and_notices_a_missed_run(
    clickhouse_url: str, receiver: Receiver
) -> None:
    now_ns = time.time_ns()
    history = [
        make_event(
            "call",
            "billing.charge",
            start_ns=now_ns - index * 7_500 * 10**6,  # over the last 50 minutes
            duration_ns=10**6,
            outcome="error" if index % 10 == 0 else "ok",
        )
        for index in range(400)
    ]
    history.append(make_event("call", "billing.charge", start_ns=now_ns - 2 * 3600 * NS))
    history.append(
        make_event("run", "hourly-sync", start_ns=now_ns - 2 * 3600 * NS, fields={"schedule": "1h"})
    )
    sink = ClickHouseSink(clickhouse_url)
    sink.write(history)
    sink.close()
    env = {
        "LOOKOUT_ALERTS": json.dumps(
            [
                {"type": "error_rate", "threshold": 0.05, "window": "1h"},
                {"type": "missed_run", "grace": "10m"},
            ]
        ),
        "LOOKOUT_NOTIFIERS": json.dumps([{"type": "webhook", "url": receiver.url}]),
    }
    result = lookout_cli("watch", "--store", clickhouse_url, "--once", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    messages = {json.loads(r["body"])["subject"]: json.loads(r["body"]) for r in receiver.requests}  # type: ignore[arg-type]
    assert set(messages) == {
        "[ALERT] error_rate: billing.charge",
        "[ALERT] missed_run: hourly-sync",
    }, messages
    assert "of 400" in messages["[ALERT] error_rate: billing.charge"]["body"]


def test_the_follower_reads_each_new_row_once_in_written_order(
    clickhouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are read once they are a lag old, each once, whatever their start times."""
    monkeypatch.setattr(tail, "LAG_S", 0.5)
    sink = ClickHouseSink(clickhouse_url)
    store = sink.store
    now_ns = time.time_ns()
    sink.write([make_event("call", "before", start_ns=now_ns - n * NS) for n in range(5)])
    settings = Settings(alerts=({"type": "error", "names": ["late.*"], "window": "5m"},))
    watcher = StoreWatcher(clickhouse_url, settings)
    assert watcher.history_read == 5  # the rule's window, everything stored
    late = [make_event("call", "late.job", start_ns=now_ns - 3600 * NS, outcome="error")]
    sink.write(late + [make_event("call", "new", start_ns=time.time_ns()) for _ in range(3)])
    read, _ = watcher.step()
    assert read == 0  # younger than the lag: not yet
    time.sleep(0.6)
    read, messages = watcher.step()
    assert read == 4  # the late event (started an hour ago) included, the history's skipped
    assert [m.subject for m in messages] == []  # an hour-old error is outside the window
    assert watcher.step()[0] == 0
    watcher.stop()
    sink.close()
    assert isinstance(store, ClickHouseStore)


def _failing(lk: Lookout) -> Any:
    @lk.monitor(name="shop.lookup")
    def lookup(sku: str) -> int:
        prices: dict[str, int] = {}
        return prices[sku]

    return lookup


def test_error_group_rules_read_the_merged_groups(clickhouse_url: str) -> None:
    inbox = Collect()
    lk = Lookout(store=clickhouse_url, batch_interval=0.01, notifiers=[inbox])
    engine = AlertEngine(lk, [NewErrorGroup(window="1h"), ErrorRegression(throttle="1h")])
    lookup = _failing(lk)
    for n in range(3):
        with pytest.raises(KeyError):
            lookup(f"sku-{n}")
    assert lk.flush(10)
    engine.evaluate()
    assert len(inbox.subjects) == 1, inbox.subjects
    assert inbox.subjects[0].startswith("[ALERT] new_error_group: KeyError in ")
    assert "3 occurrence(s)" in inbox.bodies[0]
    store = lk.store
    assert isinstance(store, ClickHouseStore)
    [group] = errors.groups(store)
    assert errors.set_status(store, group.id, "resolved")
    engine.evaluate()
    assert len(inbox.subjects) == 1  # resolved, quiet: no regression
    with pytest.raises(KeyError):
        lookup("again")
    assert lk.flush(10)
    engine.evaluate()
    regressions = [s for s in inbox.subjects if "error_regression" in s]
    assert len(regressions) == 1 and regressions[0].startswith("[ALERT] error_regression: KeyError")
    [again] = errors.groups(store)
    assert again.status == "unresolved" and again.regression and again.count == 4
    assert again.regressed_ns is not None and again.regressed_ns > group.last_ns
    lk.close()
