"""Alert rules and job schedules: what each rule watches and when its condition holds.

Split from :mod:`lookout.alerts` (the engine that turns conditions into throttled messages)
so each module has one job. A rule reports, per key (a function, an endpoint, a job), whether
its condition holds and how many matching events it has seen; it keeps only what its window
needs. :func:`build_rules` makes rules from the ``alerts`` setting's tables, and
:data:`RULE_TYPES` is where other modules (:mod:`lookout.error_alerts`) add their types.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lookout.config import ConfigError
from lookout.config_values import parse_duration
from lookout.events import ERROR, Event

#: Most recent observations kept per key and rule: bounds memory under a flood of events.
MAX_SAMPLES_PER_KEY = 10_000


# -- schedules -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Schedule:
    """When a job should run: every ``interval`` seconds, or per a cron expression (UTC)."""

    text: str
    interval: float | None = None

    def next_after(self, moment: float) -> float:
        """The first expected run after ``moment`` (seconds since the epoch)."""
        if self.interval is not None:
            return moment + self.interval
        from cronsim import CronSim

        start = dt.datetime.fromtimestamp(moment, dt.timezone.utc)
        return float(next(CronSim(self.text, start)).timestamp())


def parse_schedule(value: str | float) -> Schedule:
    """``"15m"``, ``3600`` (an interval) or ``"0 3 * * *"`` (cron, five fields, UTC).

    Raises:
        ValueError: neither a duration nor a valid cron expression (says which field).
    """
    if isinstance(value, (int, float)) or len(str(value).split()) == 1:
        return Schedule(str(value), parse_duration(value))
    from cronsim import CronSim, CronSimError

    try:
        CronSim(str(value), dt.datetime.now(dt.timezone.utc))
    except CronSimError as error:
        raise ValueError(f"schedule {value!r}: not a cron expression ({error})") from None
    return Schedule(str(value))


# -- rules ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class Condition:
    """A rule's verdict for one key: does it hold, why, and how many events matched so far."""

    active: bool
    detail: str
    occurrences: int = 0


class Rule:
    """Base of the rules: which events it looks at, its window, and its message throttle.

    Args:
        names: glob patterns of names to watch (default all).
        kinds: event kinds to watch.
        window: how far back the condition looks (seconds or a duration like ``"5m"``).
        throttle: at most one message per key per this long while the condition holds
            (default: the window).
    """

    title = "rule"

    def __init__(
        self,
        *,
        names: Sequence[str] | None = None,
        kinds: Sequence[str] = ("request", "call", "run"),
        window: float | str = "5m",
        throttle: float | str | None = None,
    ) -> None:
        self.names = list(names) if names else None
        self.kinds = frozenset(kinds)
        self.window = parse_duration(window)
        self.throttle = self.window if throttle is None else parse_duration(throttle)
        self._lock = threading.Lock()

    @property
    def rule_id(self) -> str:
        return f"{self.title}({self.describe()})"

    def describe(self) -> str:
        return f"window {self.window:g}s"

    def matches(self, event: Event) -> bool:
        if event.kind not in self.kinds:
            return False
        return self.names is None or any(fnmatch.fnmatchcase(event.name, p) for p in self.names)

    def observe(self, event: Event) -> None:
        """Take one event into account (only called for matching events)."""

    def conditions(self, now: float) -> dict[str, Condition]:
        """The verdict per key at ``now``."""
        return {}


class _Windowed(Rule):
    """Keeps (time, value) samples per key within the window."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._counts: dict[str, int] = {}

    def _add(self, key: str, moment: float, value: float) -> None:
        with self._lock:
            samples = self._samples.setdefault(key, deque(maxlen=MAX_SAMPLES_PER_KEY))
            samples.append((moment, value))
            self._counts[key] = self._counts.get(key, 0) + 1

    def _recent(self, now: float) -> dict[str, list[float]]:
        with self._lock:
            recent = {}
            for key, samples in self._samples.items():
                while samples and samples[0][0] < now - self.window:
                    samples.popleft()
                recent[key] = [value for _, value in samples]
            return recent


class OnError(_Windowed):
    """Fires when a watched function, endpoint or job fails; resolves after a quiet window."""

    title = "error"

    def __init__(self, **options: Any) -> None:
        options.setdefault("window", "10m")
        super().__init__(**options)
        self._last: dict[str, str] = {}

    def observe(self, event: Event) -> None:
        if event.outcome == ERROR:
            what = event.error_type or (f"status {event.status}" if event.status else "error")
            self._last[event.name] = f"{what}: {event.error_message or ''}".rstrip(": ")
            self._add(event.name, event.start_ns / 1e9, 1.0)

    def conditions(self, now: float) -> dict[str, Condition]:
        return {
            key: Condition(
                bool(errors),
                f"{len(errors)} error(s) in {key} in the last {self.window:g}s; "
                f"last: {self._last.get(key, '')}",
                self._counts.get(key, 0),
            )
            for key, errors in self._recent(now).items()
        }


class ErrorRate(_Windowed):
    """Fires when the share of failures over the window passes ``threshold`` (0 to 1)."""

    title = "error_rate"

    def __init__(self, threshold: float = 0.05, *, min_events: int = 20, **options: Any) -> None:
        super().__init__(**options)
        if not 0 <= threshold <= 1:
            raise ValueError("ErrorRate: threshold is a fraction between 0 and 1")
        self.threshold = threshold
        self.min_events = min_events

    def describe(self) -> str:
        return f"> {self.threshold:.0%} over {self.window:g}s"

    def observe(self, event: Event) -> None:
        self._add(event.name, event.start_ns / 1e9, 1.0 if event.outcome == ERROR else 0.0)

    def conditions(self, now: float) -> dict[str, Condition]:
        verdicts = {}
        for key, values in self._recent(now).items():
            rate = sum(values) / len(values) if values else 0.0
            verdicts[key] = Condition(
                len(values) >= self.min_events and rate > self.threshold,
                f"{key}: {rate:.1%} of {len(values)} failed in the last {self.window:g}s "
                f"(threshold {self.threshold:.1%})",
                int(sum(values)),
            )
        return verdicts


class LatencyP95(_Windowed):
    """Fires when the 95th percentile of durations over the window passes ``threshold_ms``."""

    title = "latency_p95"

    def __init__(self, threshold_ms: float, *, min_events: int = 20, **options: Any) -> None:
        options.setdefault("kinds", ("request", "call"))
        super().__init__(**options)
        self.threshold_ms = threshold_ms
        self.min_events = min_events

    def describe(self) -> str:
        return f"> {self.threshold_ms:g} ms over {self.window:g}s"

    def observe(self, event: Event) -> None:
        self._add(event.name, event.start_ns / 1e9, event.duration_ns / 1e6)

    def conditions(self, now: float) -> dict[str, Condition]:
        verdicts = {}
        for key, values in self._recent(now).items():
            ordered = sorted(values)
            p95 = ordered[math.ceil(0.95 * len(ordered)) - 1] if ordered else 0.0  # nearest rank
            slow = sum(1 for value in values if value > self.threshold_ms)
            verdicts[key] = Condition(
                len(values) >= self.min_events and p95 > self.threshold_ms,
                f"{key}: p95 {p95:.1f} ms over {len(values)} events in the last "
                f"{self.window:g}s (threshold {self.threshold_ms:g} ms)",
                slow,
            )
        return verdicts


class MissedHeartbeat(Rule):
    """Fires when a job that declared a ``schedule`` has not started by its next expected
    time plus ``grace``; resolves when it runs again."""

    title = "missed_run"

    def __init__(self, *, grace: float | str = "5m", **options: Any) -> None:
        options.setdefault("kinds", ("run",))
        super().__init__(**options)
        self.grace = parse_duration(grace)
        self._last: dict[str, tuple[float, Schedule]] = {}
        self._runs: dict[str, int] = {}

    def describe(self) -> str:
        return f"grace {self.grace:g}s"

    def observe(self, event: Event) -> None:
        declared = event.fields.get("schedule")
        if declared is None:
            return
        try:
            schedule = parse_schedule(declared)  # type: ignore[arg-type]
        except ValueError:
            return
        started = event.start_ns / 1e9
        with self._lock:
            previous = self._last.get(event.name)
            if previous is None or started >= previous[0]:
                self._last[event.name] = (started, schedule)
            self._runs[event.name] = self._runs.get(event.name, 0) + 1

    def conditions(self, now: float) -> dict[str, Condition]:
        verdicts = {}
        with self._lock:
            for job, (started, schedule) in self._last.items():
                due = schedule.next_after(started)
                late = now > due + self.grace
                verdicts[job] = Condition(
                    late,
                    f"{job} was expected by {_utc(due)} (schedule {schedule.text!r}); "
                    f"its last run started {_utc(started)}",
                    self._runs.get(job, 0),
                )
        return verdicts


RULE_TYPES: dict[str, type[Rule]] = {
    "error": OnError,
    "error_rate": ErrorRate,
    "latency_p95": LatencyP95,
    "missed_run": MissedHeartbeat,
}


def build_rule(spec: Mapping[str, Any]) -> Rule:
    """A rule from a configuration table: ``{"type": "error_rate", "threshold": 0.1}``."""
    options = dict(spec)
    kind = options.pop("type", None)
    if kind not in RULE_TYPES:
        raise ValueError(f"alert type {kind!r} is unknown; choose one of {', '.join(RULE_TYPES)}")
    try:
        return RULE_TYPES[kind](**options)
    except TypeError as error:
        raise ValueError(f"alert {kind!r}: {error}") from None


def build_rules(specs: Iterable[Mapping[str, Any]], where: str) -> list[Rule]:
    """The rules of the ``alerts`` setting's tables; a ConfigError naming where the setting
    came from and which table is wrong. Settings parsing only checks that they are tables:
    rules are made here, by whoever evaluates them (the Lookout, ``lookout watch``)."""
    rules = []
    for number, spec in enumerate(specs, 1):
        try:
            rules.append(build_rule(spec))
        except ValueError as exc:
            raise ConfigError(f"{where}: alerts[{number}]: {exc}") from None
    return rules


def _utc(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
