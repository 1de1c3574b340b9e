"""Alert rules on error groups: a new error group, and a resolved group that came back.

These rules read the store's error groups (store/error_groups.py; on a ClickHouse store,
the server-merged groups of store/clickhouse/errors.py) rather than the event stream: whether
a group is new or a regression is the store's knowledge, shared by every app instance writing
to it, not one process's. They go through the same :class:`AlertEngine` as
the other rules: one message when a group appears (or regresses), at most one more per
``throttle`` while it goes on occurring (with the number of occurrences held back), and a
"resolved" message one ``window`` later. The engine hands each rule its host (``bind``): the
rules read that host's store, the Lookout's own or the one ``lookout watch`` follows.

    [[alerts]]
    type = "new_error_group"     # or "error_regression"
    window = "1h"                # how long a group counts as new / regressed
    names = ["KeyError", "shop.*"]   # globs of the error type or the culprit (default all)
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any

import sqlalchemy as sa

from lookout.alert_rules import RULE_TYPES, Condition, Rule
from lookout.store.clickhouse import errors
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.engine import SqlStore
from lookout.store.schema import error_groups

NS = 1_000_000_000


class _GroupRule(Rule):
    """A rule over the store's error groups seen within the window."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("window", "1h")
        super().__init__(**options)
        self._host: Any = None
        #: Groups first seen (or regressed) before the rule started are not news.
        self._since_ns = time.time_ns()
        #: Keys active at the last evaluation, and their occurrences: reported inactive once
        #: when they stop (the engine's "resolved" message), even if the group is quiet.
        self._active: dict[str, int] = {}

    def bind(self, host: Any) -> None:
        """The host whose store the rule reads (called by the AlertEngine)."""
        self._host = host

    def matches(self, event: Any) -> bool:
        return False  # the store's groups are read at each evaluation, not the events

    def _store(self) -> SqlStore | None:
        store = getattr(self._host, "store", None)
        return store if isinstance(store, SqlStore) else None

    def _rows(self, now: float) -> list[Any]:
        store = self._store()
        if store is None:
            return []
        since_ns = int((now - self.window) * NS)
        if isinstance(store, ClickHouseStore):
            found = errors.groups(store, last_since_ns=since_ns)
            return [
                group
                for group in found
                if group.status != "ignored" and group.count > 0 and self._named(group)
            ]
        g = error_groups
        with store.read_engine.connect() as connection:
            rows = connection.execute(
                sa.select(g).where(
                    g.c.last_ns >= since_ns,
                    g.c.status != "ignored",
                    g.c.count > 0,
                )
            ).all()
        return [row for row in rows if self._named(row)]

    def _named(self, row: Any) -> bool:
        if self.names is None:
            return True
        found = (row.error_type, row.culprit)
        return any(fnmatch.fnmatchcase(text, p) for p in self.names for text in found)

    def _settled(self, active: dict[str, Condition], ended: str) -> dict[str, Condition]:
        """``active`` plus the keys active last time and no longer, as inactive once."""
        found = dict(active)
        for key, occurrences in self._active.items():
            if key not in active:
                found[key] = Condition(False, f"{key}: {ended}", occurrences)
        self._active = {key: condition.occurrences for key, condition in active.items()}
        return found


def _key(row: Any) -> str:
    return f"{row.error_type} in {row.culprit} (group {row.id})"


class NewErrorGroup(_GroupRule):
    """Fires when an error group appears that the store had not seen before; it stays
    active (throttled follow-ups with the new occurrences) for one window after it first
    appeared."""

    title = "new_error_group"

    def conditions(self, now: float) -> dict[str, Condition]:
        after = max(self._since_ns, int((now - self.window) * NS))
        active = {
            _key(row): Condition(
                True,
                f"new error group: {row.error_type} in {row.culprit}, first seen "
                f"{_utc(row.first_ns)} in version {row.first_version or '(none)'}; "
                f"{row.count} occurrence(s); message: {row.message[:300]}",
                int(row.count),
            )
            for row in self._rows(now)
            if int(row.first_ns) >= after
        }
        return self._settled(active, f"no longer new ({self.window:g}s after it appeared)")


class ErrorRegression(_GroupRule):
    """Fires when a group an admin marked resolved occurs again (the writer reopens it as a
    regression); active for one window after it came back."""

    title = "error_regression"

    def conditions(self, now: float) -> dict[str, Condition]:
        after = max(self._since_ns - int(self.window * NS), int((now - self.window) * NS))
        active = {
            _key(row): Condition(
                True,
                f"regression: {row.error_type} in {row.culprit} occurred again at "
                f"{_utc(row.regressed_ns)} after it was resolved, in version "
                f"{row.last_version or '(none)'}; message: {row.message[:300]}",
                int(row.count),
            )
            for row in self._rows(now)
            if row.regression and row.regressed_ns is not None and int(row.regressed_ns) >= after
        }
        return self._settled(active, f"no regression in the last {self.window:g}s")


def _utc(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(ns) / NS))


RULE_TYPES.update({"new_error_group": NewErrorGroup, "error_regression": ErrorRegression})
