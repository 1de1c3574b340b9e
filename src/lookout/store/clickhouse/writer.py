"""Writing batches of Events into ClickHouse: one INSERT of column blocks per batch.

The writer does nothing per event but turn the batch into columns (``zip(*batch)`` in C, the
outcome as a 0/1 flag, tags and fields as JSON): no names or sources to register, no rollups to
compute or merge. The materialized views (:mod:`.schema`) build the rollups inside the server,
on the insert itself, so all of a batch's rollups are there when the INSERT returns and no two
writers ever wait on each other. Batches should be large (thousands of events): ClickHouse
makes one part per insert and merges parts in the background.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lookout.events import ERROR, HOSTNAME, Event
from lookout.jsontext import to_json
from lookout.store.clickhouse import error_schema, schema
from lookout.store.clickhouse.errors import Grouper
from lookout.store.clickhouse.store import ClickHouseStore

_INSERT = "INSERT INTO {table} ({columns}) VALUES"
#: Batches whose first send time a writer remembers (retries and spool replays come soon).
MAX_STAMPS = 256


class ClickHouseWriter:
    """Writes batches of Events into one ClickHouse store.

    Args:
        store: the store.
        hostname: the name stored for this machine's events (None: the name they carry).
    """

    def __init__(self, store: ClickHouseStore, *, hostname: str | None = None) -> None:
        self.store = store
        self._rename = {} if hostname in (None, HOSTNAME) else {HOSTNAME: hostname}
        self._sql = _INSERT.format(
            table=store.table(schema.EVENTS),
            columns=", ".join(
                (*schema.EVENT_COLUMNS, *error_schema.ERROR_COLUMNS, *schema.WRITTEN_COLUMNS)
            ),
        )
        #: error groups: the fingerprint of each error event, made here (the sink's thread)
        self._grouper = Grouper()
        #: when each recent batch was first sent: a retry (or the spool's replay) sends the
        #: same written_ns, so its blocks are the same and replicated tables drop the repeat
        self._stamps: dict[tuple[Any, ...], int] = {}
        #: batches and events written (for the benchmarks; the Recorder keeps the counters)
        self.batches = 0
        self.events = 0

    def write(self, batch: Sequence[Event]) -> None:
        """Insert the batch in one statement: all of it, or (on an error) none of it."""
        if not batch:
            return
        blocks = columns(batch, self._rename) + self._grouper.columns(batch)
        blocks.append([self._stamp(batch)] * len(batch))  # written_ns: what lookout watch follows
        self.store.execute(self._sql, blocks, columnar=True)
        self.batches += 1
        self.events += len(batch)

    def _stamp(self, batch: Sequence[Event]) -> int:
        first, last = batch[0], batch[-1]
        key = (
            len(batch),
            *(first.start_ns, first.name, first.host, first.pid, first.request_id),
            *(last.start_ns, last.name, last.host, last.pid, last.request_id),
        )
        stamp = self._stamps.get(key)
        if stamp is None:
            if len(self._stamps) >= MAX_STAMPS:
                self._stamps.clear()
            stamp = self._stamps[key] = time.time_ns()
        return stamp


def columns(batch: Sequence[Event], rename: dict[str, str] | None = None) -> list[Any]:
    """The batch as ``lookout_events`` columns, in :data:`.schema.EVENT_COLUMNS` order."""
    (
        kinds,
        names,
        starts,
        durations,
        outcomes,
        statuses,
        hosts,
        pids,
        versions,
        request_ids,
        groups,
        ips,
        tags,
        fields,
        error_types,
        error_messages,
        tracebacks,
    ) = zip(*batch, strict=True)
    if rename:
        hosts = tuple(rename.get(host, host) for host in hosts)
    # Many events share one tags object (a function's static tags): its JSON is made once.
    tags_json: dict[int, str | None] = {}
    tag_texts = []
    for value in tags:
        text = tags_json.get(id(value), "")
        if text == "":
            text = tags_json[id(value)] = to_json(value) if value else None
        tag_texts.append(text)
    return [
        kinds,
        names,
        starts,
        durations,
        [1 if outcome == ERROR else 0 for outcome in outcomes],
        statuses,
        hosts,
        pids,
        [version or "" for version in versions],
        request_ids,
        groups,
        ips,
        tag_texts,
        [to_json(value) if value else None for value in fields],
        error_types,
        error_messages,
        tracebacks,
    ]
