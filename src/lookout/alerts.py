"""Alert rules: conditions over recent events that send a message when they start and stop.

Rules watch the event stream off the hot path: in-process through :class:`AlertSink` (its own
queue and worker, like any sink), or in a separate process that tails a central store
(``lookout watch``), which is also where a missed heartbeat is noticed, since a job that did not
run cannot report it.

Each rule (:mod:`lookout.alert_rules`, re-exported here) reports, per key (a function, an
endpoint, a job), whether its condition holds and how many matching events it has seen. The
:class:`AlertEngine` turns that into messages: one when a condition starts, at most one more
per ``throttle`` window while it lasts (with the number of occurrences it held back), and one
"resolved" message when it clears.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lookout.alert_rules import (
    MAX_SAMPLES_PER_KEY,
    RULE_TYPES,
    Condition,
    ErrorRate,
    LatencyP95,
    MissedHeartbeat,
    OnError,
    Rule,
    Schedule,
    build_rule,
    build_rules,
    parse_schedule,
)
from lookout.events import Event
from lookout.host import Notifying
from lookout.notify.base import Message
from lookout.sinks.base import BaseSink

__all__ = [
    "MAX_SAMPLES_PER_KEY",
    "RULE_TYPES",
    "AlertEngine",
    "AlertSink",
    "Condition",
    "ErrorRate",
    "LatencyP95",
    "MissedHeartbeat",
    "OnError",
    "Rule",
    "Schedule",
    "build_rule",
    "build_rules",
    "parse_schedule",
]

logger = logging.getLogger("lookout.alerts")
Clock = Callable[[], float]


# -- the engine ----------------------------------------------------------------------------------
@dataclasses.dataclass
class _AlertState:
    firing: bool = False
    last_sent: float = 0.0
    seen: int = 0
    suppressed: int = 0


class AlertEngine:
    """Evaluates rules and sends their messages, throttled and de-duplicated.

    Args:
        lookout: whose notifiers send the messages (and where they are recorded).
        rules: the rules.
        clock: seconds since the epoch (tests pass a fake one).
        interval: how often the background thread (``start()``) evaluates.
    """

    def __init__(
        self,
        lookout: Notifying,
        rules: Iterable[Rule],
        *,
        clock: Clock = time.time,
        interval: float = 15.0,
    ) -> None:
        self.lookout = lookout
        self.rules = list(rules)
        for rule in self.rules:  # rules that read the host's store (lookout.error_alerts)
            bind = getattr(rule, "bind", None)
            if bind is not None:
                bind(lookout)
        self.clock = clock
        self.interval = interval
        self.states: dict[tuple[str, str], _AlertState] = {}
        self.sent: list[Message] = []  # the last messages, newest last (for the dashboard)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):  # gunicorn --preload: each worker evaluates too
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        if self._thread is not None:
            self._thread = None
            self.start()

    def observe(self, events: Iterable[Event]) -> None:
        for event in events:
            for rule in self.rules:
                if rule.matches(event):
                    rule.observe(event)

    def evaluate(self, now: float | None = None) -> list[Message]:
        """Check every rule now; send and return the messages due."""
        now = self.clock() if now is None else now
        due: list[Message] = []
        with self._lock:
            for rule in self.rules:
                for key, condition in rule.conditions(now).items():
                    message = self._step(rule, key, condition, now)
                    if message is not None:
                        due.append(message)
            self.sent = (self.sent + due)[-100:]
        for message in due:
            self.lookout.notify(message)
        return due

    def _step(self, rule: Rule, key: str, condition: Condition, now: float) -> Message | None:
        state = self.states.setdefault((rule.rule_id, key), _AlertState())
        new = max(0, condition.occurrences - state.seen)
        state.seen = condition.occurrences
        if condition.active and not state.firing:
            state.firing, state.last_sent, state.suppressed = True, now, 0
            return Message(f"[ALERT] {rule.title}: {key}", condition.detail, severity="error")
        if condition.active:
            if new and now - state.last_sent < rule.throttle:
                state.suppressed += new
                return None
            if new:
                held = state.suppressed
                state.last_sent, state.suppressed = now, 0
                return Message(
                    f"[ALERT] {rule.title}: {key} (still)",
                    f"{condition.detail}\n\n{new + held} occurrence(s) since the last message"
                    f"{f', {held} held back by throttling' if held else ''}.",
                    severity="error",
                )
            return None
        if state.firing:
            held = state.suppressed
            state.firing, state.suppressed = False, 0
            return Message(
                f"[RESOLVED] {rule.title}: {key}",
                f"{condition.detail}\n\nResolved"
                f"{f'; {held} occurrence(s) were held back by throttling' if held else ''}.",
                severity="resolved",
            )
        return None

    def describe(self) -> dict[str, Any]:
        """The rules, which keys are firing, and the latest messages (for the dashboard)."""
        with self._lock:
            firing = [
                {
                    "rule": rule_id,
                    "key": key,
                    "since_last_message_s": round(self.clock() - s.last_sent),
                    "held_back": s.suppressed,
                }
                for (rule_id, key), s in self.states.items()
                if s.firing
            ]
            recent = [
                {"subject": m.subject, "severity": m.severity} for m in reversed(self.sent[-20:])
            ]
        return {"rules": [rule.rule_id for rule in self.rules], "firing": firing, "recent": recent}

    # -- background evaluation ------------------------------------------------------------------
    def start(self) -> AlertEngine:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lookout-alerts", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.evaluate()
            except Exception:  # an alert bug must not end the evaluation for good
                logger.exception("lookout: evaluating alert rules failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


class AlertSink(BaseSink):
    """Feeds the events of this process to an :class:`AlertEngine`, in its own worker."""

    name = "alerts"

    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine

    def write(self, batch: Sequence[Event]) -> None:
        self.engine.observe(batch)
        self.engine.evaluate()  # errors reach people within a batch interval

    def close(self) -> None:
        self.engine.stop()
