"""Following a ClickHouse store's events as they are written (``lookout watch``).

The SQL store's follower remembers the last primary key it read. ClickHouse rows have no
insertion order, so the writer stamps each batch's rows with the time it sent them
(``written_ns``, :mod:`.schema`), and the follower reads, at each step, the rows stamped after
its cursor and up to :data:`LAG_S` ago, and moves its cursor there. The lag is what an insert
takes to become visible and what writers' clocks may disagree by: a batch stamped at ``T`` is
read once ``T`` is that far in the past, exactly once, without re-reading or remembering rows.
Rows whose events started more than :data:`MAX_LATE_S` before their cursor (a spool replayed a
day late) are not read: the partition of each day is what keeps a step's read small.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from lookout.events import Event
from lookout.store import tail as sql_tail
from lookout.store.clickhouse import schema
from lookout.store.clickhouse.store import ClickHouseStore

NS = 1_000_000_000
LAG_S = 10.0
MAX_LATE_S = 86400.0
_COLUMNS = ", ".join(schema.EVENT_COLUMNS)


def horizon_ns(now_ns: int | None = None) -> int:
    """The newest stamp a step reads up to."""
    return (time.time_ns() if now_ns is None else now_ns) - int(LAG_S * NS)


def event(row: Sequence[Any]) -> Event:
    """An Event from a row of :data:`.schema.EVENT_COLUMNS` (the SQL follower's columns after
    its id)."""
    return sql_tail._event((0, *row))


#: What tells two stored rows apart when a follower must skip the ones it read already.
Seen = set[tuple[Any, ...]]


def _seen_key(row: Sequence[Any]) -> tuple[Any, ...]:
    """(written_ns, start_ns, host, pid, kind, name, request_id) of a row selected with
    ``written_ns`` after :data:`.schema.EVENT_COLUMNS`."""
    return (row[-1], row[2], row[6], row[7], row[0], row[1], row[9])


def written_after(
    store: ClickHouseStore,
    cursor_ns: int,
    limit: int,
    *,
    now_ns: int | None = None,
    skip: Seen | None = None,
) -> tuple[list[Event], int]:
    """The events stamped after ``cursor_ns`` and before the horizon, in the order they were
    written, about ``limit`` of them (whole batches), and the new cursor; rows in ``skip``
    (read by :func:`history` already) are left out."""
    horizon = horizon_ns(now_ns)
    if horizon <= cursor_ns:
        return [], cursor_ns
    table = store.table(schema.EVENTS)
    params = {
        "after": cursor_ns,
        "horizon": horizon,
        "floor": cursor_ns - int(MAX_LATE_S * NS),
    }
    where = "start_ns >= %(floor)s AND written_ns > %(after)s AND written_ns <= %(horizon)s"
    bound = store.execute(
        f"SELECT max(written_ns), count() FROM (SELECT written_ns FROM {table} "
        f"WHERE {where} ORDER BY written_ns LIMIT {int(limit)})",
        params,
    )
    if not bound or not bound[0][1]:
        return [], horizon
    params["horizon"] = int(bound[0][0])
    rows = store.execute(
        f"SELECT {_COLUMNS}, written_ns FROM {table} WHERE {where} ORDER BY written_ns, start_ns",
        params,
    )
    if skip:
        rows = [row for row in rows if _seen_key(row) not in skip]
    return [event(row[:-1]) for row in rows], params["horizon"]


def history(
    store: ClickHouseStore, since_ns: int, cursor_ns: int, limit: int
) -> tuple[list[Event], Seen]:
    """The newest ``limit`` events stored now that started at or after ``since_ns``, oldest
    first, and the rows among them stamped after ``cursor_ns`` (the follower's start, a lag
    ago), which its first steps read again and must skip."""
    rows = store.execute(
        f"SELECT {_COLUMNS}, written_ns FROM {store.table(schema.EVENTS)} "
        f"WHERE start_ns >= %(since)s ORDER BY start_ns DESC LIMIT {int(limit)}",
        {"since": since_ns},
    )
    seen = {_seen_key(row) for row in rows if row[-1] > cursor_ns}
    return [event(row[:-1]) for row in reversed(rows)], seen
