"""The SQL sink: writes events into the store the dashboard and ``lookout stats`` read."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence

from sqlalchemy import text

from lookout.events import Event
from lookout.sinks.base import BaseSink
from lookout.store import retention
from lookout.store.engine import SqlStore
from lookout.store.writer import BatchWriter

logger = logging.getLogger("lookout.sinks.sql")

#: How often the writer prunes old data when automatic retention is on.
PRUNE_EVERY_S = 3600.0

_sinks: weakref.WeakSet[SqlSink] = weakref.WeakSet()


#: Longest a fork waits for a store being opened (a database that does not answer could make
#: the open take minutes; after this the fork goes ahead and the child opens its own store).
FORK_WAIT_S = 5.0
_held_for_fork: list[SqlSink] = []


def _before_fork() -> None:
    """Avoid forking while a thread is opening (and migrating) a store: the child would inherit
    the half-done work and its locks. Opening holds ``_open_lock``; fork waits for it, briefly."""
    for sink in list(_sinks):
        if sink._open_lock.acquire(timeout=FORK_WAIT_S):
            _held_for_fork.append(sink)


def _after_fork_in_parent() -> None:
    while _held_for_fork:
        _held_for_fork.pop()._open_lock.release()


def _after_fork_in_child() -> None:
    _held_for_fork.clear()
    for sink in list(_sinks):
        sink._open_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


class SqlSink(BaseSink):
    """Writes each batch (raw events and rollups) in one transaction.

    Args:
        store: the database, or its URL: then it is opened (and migrated) on first use, in the
            worker thread, so that starting the application never waits for the database.
        retention_s: raw events and minute rollups older than this are deleted (None keeps all).
        rollup_retention_s: hour rollups older than this are deleted (None keeps all).
        hostname: the name stored for this machine's events (None: the name they carry).
    """

    name = "sql"

    def __init__(
        self,
        store: SqlStore | str,
        *,
        retention_s: float | None = None,
        rollup_retention_s: float | None = None,
        hostname: str | None = None,
    ) -> None:
        self.hostname = hostname
        self._store = store if isinstance(store, SqlStore) else None
        self._url = store if isinstance(store, str) else store.safe_url
        self._open_lock = threading.Lock()
        _sinks.add(self)
        self._writer: BatchWriter | None = None
        self.retention_s = retention_s
        self.rollup_retention_s = rollup_retention_s
        self._next_prune = time.monotonic() + 60.0  # not while the application starts up

    @property
    def store(self) -> SqlStore:
        """The store, opened (and its schema upgraded) the first time it is needed."""
        if self._store is None:
            with self._open_lock:
                if self._store is None:
                    self._store = SqlStore(self._url)
        return self._store

    @property
    def url(self) -> str:
        return self._url if self._store is None else self._store.safe_url

    def write(self, batch: Sequence[Event]) -> None:
        if self._writer is None:
            self._writer = BatchWriter(self.store.engine, hostname=self.hostname)
        self._writer.write(batch)
        self._prune_when_due()

    def _prune_when_due(self) -> None:
        """Prune at most once every PRUNE_EVERY_S, after a batch (retention on only)."""
        if self.retention_s is not None and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
            self.prune_now()

    @property
    def deadlocks_retried(self) -> int:
        """Deadlocks the database reported and the writer retried (none surface as failures)."""
        return 0 if self._writer is None else self._writer.deadlocks

    def prune_now(self) -> retention.PruneResult | None:
        if self.retention_s is None:
            return None
        try:
            result = retention.prune(
                self.store,
                older_than_s=self.retention_s,
                rollups_older_than_s=self.rollup_retention_s,
            )
        except Exception:  # pruning failing must not fail (and re-send) the batch just written
            logger.exception("lookout: automatic pruning of %s failed", self.store.safe_url)
            return None
        return result

    def after_fork(self) -> None:
        if self._store is not None:
            self._store.after_fork()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def check(self) -> str:
        with self.store.engine.begin() as connection:
            connection.execute(text("SELECT 1"))
        return f"{self.store.safe_url}: connected, schema up to date, writable"
