"""Monitoring levels per endpoint, shared through the store, and outlier thresholds.

| level | records |
|---|---|
| 0 | nothing |
| 1 | the request event (the default) |
| 2 | plus, for outliers, headers, arguments and stacks sampled while the request was slow |
| 3 | plus a sampling profile of every request (folded stacks with sample counts) |

Levels live in the store's settings table so that an admin's change reaches every process;
each process re-reads them, and recomputes outlier thresholds (mean + c x stdev over the last
hour of the endpoint's rollups, once it has ``warmup`` requests), in a background thread, so
the request path only ever reads two dicts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from lookout.store.queries import summarize
from lookout.store.settings import read_settings, write_setting

if TYPE_CHECKING:
    from lookout.store.engine import SqlStore

logger = logging.getLogger("lookout.flask")

LEVELS = (0, 1, 2, 3)
#: How an endpoint's outlier threshold is computed: mean + c x stdev, or c x mean (FMD's).
OUTLIER_RULES = ("stdev", "average")
THRESHOLD_WINDOW_S = 3600.0


def level_key_prefix(app_name: str) -> str:
    return f"flask.level:{app_name}:"


def endpoints_key(app_name: str) -> str:
    """Where an app lists its endpoints and default level, for the dashboard to offer."""
    return f"flask.endpoints:{app_name}"


class EndpointLevels:
    """Levels and outlier thresholds of one app's endpoints.

    Args:
        app_name: keys the levels in the store, so two apps sharing a store keep their own.
        store: returns the store where levels persist, or None to keep them in this process;
            called from the background thread, so opening the store never delays start-up.
        default_level: the level of endpoints nobody has set.
        outlier_constant: c in mean + c x stdev (``outlier_rule="stdev"``), or in c x mean
            (``"average"``, Flask-MonitoringDashboard's rule).
        outlier_rule: how the threshold is computed from the endpoint's recent requests.
        outlier_warmup: requests an endpoint needs before it can have outliers.
        refresh_interval: seconds between two background refreshes.
    """

    def __init__(
        self,
        app_name: str,
        store: Callable[[], SqlStore | None],
        *,
        default_level: int = 1,
        outlier_constant: float = 2.5,
        outlier_warmup: int = 10,
        outlier_rule: str = "stdev",
        refresh_interval: float = 10.0,
        endpoints: Callable[[], list[str]] | None = None,
    ) -> None:
        self.app_name = app_name
        self._endpoints = endpoints
        self._registered = False
        self._store = store
        self.default_level = check_level(default_level)
        self.outlier_constant = outlier_constant
        self.outlier_warmup = outlier_warmup
        self.outlier_rule = outlier_rule
        self.refresh_interval = refresh_interval
        #: endpoint -> level, for endpoints not at the default (read on every request)
        self.levels: dict[str, int] = {}
        #: endpoint -> outlier threshold in ns (read on every level-2+ request)
        self.thresholds_ns: dict[str, int] = {}
        #: called after levels change, here or in the store
        self.on_change: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._refresh_thread: threading.Thread | None = None
        #: Orders changes against refreshes: a refresh that read the store before a change was
        #: written must not put the old level back after it. Held around the store's settings
        #: I/O, never by a request (requests only read ``levels``).
        self._change_lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def level_of(self, endpoint: str | None) -> int:
        return self.levels.get(endpoint or "", self.default_level)

    def set_level(self, endpoint: str, level: int) -> None:
        """Change an endpoint's level now in this process, and for all others via the store."""
        check_level(level)
        store = self._store()
        with self._change_lock:
            if store is not None:
                write_setting(store, level_key_prefix(self.app_name) + endpoint, str(level))
            # a new dict, swapped whole: a request reads the old one or the new one
            self.levels = {**self.levels, endpoint: level}
        if self.on_change is not None:
            self.on_change()

    def refresh(self) -> None:
        """Re-read levels and recompute thresholds from the store."""
        store = self._store()
        if store is None:
            return
        if not self._registered and self._endpoints is not None:
            registry = {"endpoints": self._endpoints(), "default_level": self.default_level}
            write_setting(store, endpoints_key(self.app_name), json.dumps(registry))
            self._registered = True
        with self._change_lock:
            stored = read_settings(store, level_key_prefix(self.app_name))
            self.levels = {
                endpoint: int(value)
                for endpoint, value in stored.items()
                if value.isdigit() and int(value) in LEVELS
            }
        if self.on_change is not None:
            self.on_change()
        thresholds: dict[str, int] = {}
        for summary in summarize(store, since_s=THRESHOLD_WINDOW_S, kind="request"):
            if summary.count >= self.outlier_warmup:
                if self.outlier_rule == "average":
                    limit_ms = self.outlier_constant * summary.mean_ms
                else:
                    limit_ms = summary.mean_ms + self.outlier_constant * summary.stdev_ms
                thresholds[summary.name] = int(limit_ms * 1e6)
        self.thresholds_ns = thresholds

    def start(self) -> None:
        """Refresh now and then every ``refresh_interval`` seconds, in a daemon thread."""
        if self._refresh_thread is not None and self._refresh_thread.is_alive():
            return
        self._refresh_thread = threading.Thread(
            target=self._run, name="lookout-levels", daemon=True
        )
        self._refresh_thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _after_fork(self) -> None:
        self._change_lock = threading.Lock()  # a thread of the parent may have held it
        if self._refresh_thread is not None and not self._stop.is_set():
            self._refresh_thread = None
            self.start()

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # the store may be down; keep the last known levels
                logger.warning("lookout: could not refresh monitoring levels", exc_info=True)
            if self._stop.wait(self.refresh_interval):
                return


def check_level(level: int) -> int:
    if isinstance(level, bool) or level not in LEVELS:
        raise ValueError(f"monitoring level must be 0, 1, 2 or 3; got {level!r}")
    return level
