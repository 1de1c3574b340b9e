"""Following a store's events and evaluating alert rules over them (``lookout watch``, and
``lookout dashboard`` when alert rules are configured).

A follower reads rows by id as they are written, so it sees every app instance writing to the
store; at start it reads each job's latest run, so missed heartbeats are noticed even for jobs
that ran before it started. On a ClickHouse store it follows the time each batch was written
instead (:mod:`lookout.store.clickhouse.tail`: rows have no id there).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lookout.alerts import AlertEngine, build_rules
from lookout.config import ConfigError, Settings
from lookout.core import Lookout
from lookout.notify import Message
from lookout.store.clickhouse import tail as clickhouse_tail
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.tail import events_after, first_event_id_since, last_event_id, latest_runs

BATCH = 5000
#: Most events of the rules' windows read at start (the newest ones).
HISTORY_LIMIT = 200_000


class StoreWatcher:
    """Evaluates ``settings.alerts`` over the events of the store at ``store_url``.

    Its own messages are recorded into the same store (so the dashboard shows them); its rules
    run here, not in the applications.
    """

    def __init__(
        self, store_url: str, settings: Settings, config_file: str | Path | None = None
    ) -> None:
        rules = build_rules(settings.alerts, "settings")
        if not rules:
            raise ConfigError(
                "no alert rules are configured: add [[alerts]] tables or LOOKOUT_ALERTS"
            )
        self.lookout = Lookout(store=store_url, config_file=config_file, alerts=())
        store = self.lookout.store
        assert store is not None
        self.store = store
        self.engine = AlertEngine(self.lookout, rules)
        self.engine.observe(latest_runs(store))
        #: (ClickHouse) rows the history read that the first steps would read again
        self._seen: clickhouse_tail.Seen = set()
        self.cursor = (
            clickhouse_tail.horizon_ns()
            if isinstance(store, ClickHouseStore)
            else last_event_id(store)
        )
        #: Events read from before the watcher started, so that windowed rules (an error rate
        #: over the last hour) judge the whole window, not only what arrived since the start.
        self.history_read = self._read_history(max(rule.window for rule in rules))
        self._stop = threading.Event()

    def _read_history(self, window_s: float) -> int:
        """Feed the rules the events of their longest window (at most ``HISTORY_LIMIT``, the
        newest, so a busy store's start stays quick); returns how many were read."""
        since_ns = time.time_ns() - int(window_s * 1e9)
        if isinstance(self.store, ClickHouseStore):
            recent, self._seen = clickhouse_tail.history(
                self.store, since_ns, self.cursor, HISTORY_LIMIT
            )
            self.engine.observe(recent)
            return len(recent)
        first = first_event_id_since(self.store, since_ns)
        if first is None:
            return 0
        cursor, end, read = max(first - 1, self.cursor - HISTORY_LIMIT), self.cursor, 0
        while cursor < end:
            events, cursor = events_after(self.store, cursor, min(BATCH, end - cursor))
            if not events:
                break
            # ids follow the writing order, not start times: a late write of an old event
            # lies among recent ids, and the rules expect their samples in time order
            recent = [event for event in events if event.start_ns >= since_ns]
            self.engine.observe(recent)
            read += len(recent)
        return read

    def step(self) -> tuple[int, list[Message]]:
        """Read what was written since the last step and evaluate: (events read, messages)."""
        if isinstance(self.store, ClickHouseStore):
            events, self.cursor = clickhouse_tail.written_after(
                self.store, self.cursor, BATCH, skip=self._seen
            )
            if self._seen and self.cursor >= max(key[0] for key in self._seen):
                self._seen = set()  # past every row the history read
        else:
            events, self.cursor = events_after(self.store, self.cursor, BATCH)
        self.engine.observe(events)
        return len(events), self.engine.evaluate()

    def run(self, interval: float, on_message: Callable[[Message], Any] | None = None) -> None:
        """Step every ``interval`` seconds (at once while behind) until :meth:`stop`."""
        while not self._stop.is_set():
            read, messages = self.step()
            for message in messages:
                if on_message is not None:
                    on_message(message)
            if read < BATCH:
                self._stop.wait(interval)

    def start(self, interval: float) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(interval,), name="lookout-watch", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self.lookout.close()
