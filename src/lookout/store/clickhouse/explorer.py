"""Raw events on ClickHouse for the request explorer, an event's page and the export.

**Event ids.** ClickHouse rows have no id, and the explorer's links, cursors and the export
carry one (an integer a browser holds exactly: below 2**53). An event's id here is its start
in microseconds since 2020-01-01 UTC times :data:`RANKS`, plus its rank among the events that
started in the same microsecond, in the order of :data:`KEY` (every column that tells two
events apart). So ids follow time, need nothing at write time, and stay the same as long as
the event is stored; up to :data:`RANKS` events a microsecond get ids of their own (more in one
microsecond, across a fleet, share the last rank's). Finding an event by id reads the events
of one microsecond: the table's order (kind, name, start_ns) narrows each name's rows to one
granule.

**Pages** are read in time windows planned from the hour rollups (counts only, per hour, of
the kinds and names asked for; a busier hour by its minute rollups), each window holding at
most :data:`WINDOW_EVENTS` events: a
first query reads only ``start_ns`` and the filtered columns to find where the page ends, a
second reads the page's rows whole. A page stops after :data:`SCAN_BUDGET` events examined,
with a cursor to go on from (``complete`` false), like the SQL store's id windows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lookout.store.clickhouse import schema
from lookout.store.clickhouse.store import ClickHouseStore

NS = 1_000_000_000
EPOCH_US = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z
RANKS = 8
HOUR_NS = 3600 * NS
WINDOW_EVENTS = 2_000_000
SCAN_BUDGET = 20_000_000
#: The order that tells events apart (ties of start_ns broken by the other columns).
KEY = (
    "start_ns",
    "host",
    "pid",
    "kind",
    "name",
    "duration_ns",
    "ifNull(request_id, '')",
    "is_error",
)
_KEY_SQL = ", ".join(KEY)
_KEY_DESC = ", ".join(f"{column} DESC" for column in KEY)
#: (start ns, end ns, events the rollups count in it)
Window = tuple[int, int, int]


class Row(NamedTuple):
    """An event as the SQL store's export columns read (lookout.store.export.event_columns)."""

    id: int
    start_ns: int
    kind: str
    name: str
    duration_ns: int
    is_error: int
    status: int | None
    host: str
    app_version: str
    request_id: str | None
    group_key: str | None
    client_ip: str | None
    error_type: str | None
    error_message: str | None
    fields: str | None
    tags: str | None


_ROW_COLUMNS = ", ".join(Row._fields[1:])
#: Columns of a row whole, then its key, then the event page's extras.
_FETCH = f"{_ROW_COLUMNS}, pid, ifNull(request_id, '')"


@dataclass(frozen=True, slots=True)
class Where:
    """A selection of raw events: ClickHouse SQL conditions (with their parameters), and the
    kinds and names it is limited to (to plan windows from the rollups)."""

    conditions: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    from_ns: int | None = None
    to_ns: int | None = None

    def sql(self, extra: Sequence[str] = ()) -> str:
        found = [*self.conditions, *extra]
        return " AND ".join(f"({condition})" for condition in found) or "1"


def id_of(start_ns: int, rank: int) -> int:
    return max(0, (start_ns // 1000 - EPOCH_US) * RANKS + min(rank, RANKS - 1))


def start_us(event_id: int) -> int:
    """The microsecond (since the Unix epoch) an id's event started in."""
    return event_id // RANKS + EPOCH_US


def _key(row: Sequence[Any]) -> tuple[Any, ...]:
    """:data:`KEY` of a fetched row (:data:`_FETCH` order)."""
    return (row[0], row[6], row[15], row[1], row[2], row[3], row[16], row[4])


def _ranked(
    store: ClickHouseStore, rows: Sequence[Sequence[Any]], span: tuple[int, int] | None = None
) -> list[Row]:
    """The rows with their ids: each one's rank among every event of its microsecond, from
    the keys of the events of those of the rows' microseconds that more than one event shares
    (most hold one: rank 0), each one granule of each name. A page's few dozen microseconds go
    in the query; an export window's thousands (``span``: the window, which holds all the
    rows) as an external table sent with it."""
    if not rows:
        return []
    micros = sorted({row[0] // 1000 for row in rows})
    low, high = span or (micros[0] * 1000, (micros[-1] + 1) * 1000)
    params: dict[str, Any] = {"low": low, "high": high}
    options: dict[str, Any] = {}
    if span is None:
        params["micros"] = tuple(micros)
        shared = "IN %(micros)s"
    else:
        shared = "GLOBAL IN lookout_micros"
        options["external_tables"] = [
            {
                "name": "lookout_micros",
                "structure": [("micro", "Int64")],
                "data": [{"micro": micro} for micro in micros],
            }
        ]
    table = store.table(schema.EVENTS)
    span_sql = "start_ns >= %(low)s AND start_ns < %(high)s"
    # only microseconds more than one event shares (most hold one: their rank is 0); GLOBAL:
    # on a cluster the subquery runs once, over the Distributed table, not on every shard
    crowded = (
        f"(SELECT micro FROM {table} PREWHERE {span_sql} "
        f"WHERE (intDiv(start_ns, 1000) AS micro) {shared} GROUP BY micro HAVING count() > 1)"
    )
    keys: dict[int, list[tuple[Any, ...]]] = {}
    for found in store.execute(
        f"SELECT {_KEY_SQL} FROM {table} PREWHERE {span_sql} "
        f"WHERE intDiv(start_ns, 1000) GLOBAL IN {crowded}",
        params,
        **options,
    ):
        keys.setdefault(found[0] // 1000, []).append(tuple(found))
    for shared_keys in keys.values():
        shared_keys.sort()
    result = []
    for row in rows:
        start = row[0]
        same = keys.get(start // 1000)
        rank = 0
        if same is not None:
            key = _key(row)
            rank = min(same.index(key), RANKS - 1) if key in same else 0
        result.append(Row(max(0, (start // 1000 - EPOCH_US) * RANKS + rank), *row[:15]))
    return result


def counts(
    store: ClickHouseStore, where: Where, bucket_s: int = 3600, within: Sequence[int] = ()
) -> list[tuple[int, int]]:
    """(bucket start s, events) of the selection's kinds and names from the hour (or minute)
    rollups, oldest first; ``within``: only in these hours."""
    conditions: list[str] = ["1"]
    params: dict[str, Any] = {}
    if where.kinds:
        conditions.append("kind IN %(kinds)s")
        params["kinds"] = where.kinds
    if where.names:
        conditions.append("name IN %(names)s")
        params["names"] = where.names
    if where.from_ns is not None:
        conditions.append("bucket_start >= %(from)s")
        params["from"] = where.from_ns // (bucket_s * NS) * bucket_s
    if where.to_ns is not None:
        conditions.append("bucket_start < %(to)s")
        params["to"] = -(-where.to_ns // NS)
    if within:
        conditions.append("intDiv(bucket_start, 3600) * 3600 IN %(within)s")
        params["within"] = tuple(within)
    return [
        (int(bucket), int(count))
        for bucket, count in store.execute(
            f"SELECT bucket_start, countMerge(count) FROM {store.table(schema.ROLLUPS[bucket_s])} "
            f"WHERE {' AND '.join(conditions)} GROUP BY bucket_start ORDER BY bucket_start",
            params,
        )
    ]


def plan(store: ClickHouseStore, where: Where, limit: int | None = None) -> list[Window]:
    """Windows of at most ``limit`` events (default :data:`WINDOW_EVENTS`) over the selection,
    oldest first: consecutive hours joined, an hour with more cut into its minutes (from the
    minute rollups), a minute with more still cut into equal slices of time."""
    limit = WINDOW_EVENTS if limit is None else limit
    hourly = counts(store, where)
    busy = [hour for hour, count in hourly if count > limit]
    minutes: dict[int, list[tuple[int, int]]] = {}
    if busy:
        for minute, count in counts(store, where, 60, busy):
            minutes.setdefault(minute // 3600 * 3600, []).append((minute, count))
    pieces: list[Window] = []
    for hour, count in hourly:
        if count <= limit:
            pieces.append((hour * NS, hour * NS + HOUR_NS, count))
            continue
        for minute, events in minutes.get(hour, []):
            start, end = minute * NS, (minute + 60) * NS
            slices = max(1, -(-events // limit))
            step = -(-(end - start) // slices)
            pieces += [
                (low, min(end, low + step), -(-events // slices)) for low in range(start, end, step)
            ]
    found: list[Window] = []
    for start, end, events in pieces:
        if found and found[-1][1] == start and found[-1][2] + events <= limit:
            found[-1] = (found[-1][0], end, found[-1][2] + events)
        else:
            found.append((start, end, events))
    return found


def page(
    store: ClickHouseStore,
    where: Where,
    *,
    cursor: int | None,
    oldest_first: bool,
    limit: int,
) -> tuple[list[Row], int | None, bool, int]:
    """(rows, next cursor, complete, events examined) of one page; see the module."""
    planned = plan(store, where)
    bound_ns = None if cursor is None else start_us(cursor) * 1000
    if not oldest_first:
        planned.reverse()
    rows: list[Row] = []
    examined = 0
    table = store.table(schema.EVENTS)
    for first, end, count in planned:
        low, high = first, end
        if bound_ns is not None:
            if oldest_first:
                low = max(low, bound_ns)
            else:
                high = min(high, bound_ns + 1000)
            if low >= high:
                continue
        if examined >= SCAN_BUDGET:
            boundary = low if oldest_first else high
            following = id_of(boundary, 0) - (1 if oldest_first else 0)
            return rows, following, False, examined
        examined += count
        need = limit - len(rows) + RANKS
        edge = "min" if not oldest_first else "max"
        order = "DESC" if not oldest_first else "ASC"
        span = ["start_ns >= %(low)s", "start_ns < %(high)s"]
        params = {**where.params, "low": low, "high": high}
        found = store.execute(
            f"SELECT {edge}(start_ns), count() FROM (SELECT start_ns FROM {table} "
            f"WHERE {where.sql(span)} ORDER BY start_ns {order} LIMIT {need})",
            params,
        )
        if not found or not found[0][1]:
            continue
        if oldest_first:
            params["high"] = found[0][0] + 1
        else:
            params["low"] = found[0][0]
        fetched = store.execute(
            f"SELECT {_FETCH} FROM {table} WHERE {where.sql(span)} ORDER BY "
            + (_KEY_DESC if not oldest_first else _KEY_SQL),
            params,
        )
        fetched.sort(key=_key, reverse=not oldest_first)
        for row in _ranked(store, fetched):
            if cursor is not None and (row.id <= cursor if oldest_first else row.id >= cursor):
                continue
            rows.append(row)
            if len(rows) >= limit:
                return rows, row.id, True, examined
    return rows, None, True, examined


def event(store: ClickHouseStore, event_id: int) -> tuple[Row, str | None, int] | None:
    """An event by id: its row, traceback and pid; None when there is none."""
    micro = start_us(event_id)
    rows = store.execute(
        f"SELECT {_FETCH}, traceback FROM {store.table(schema.EVENTS)} "
        "WHERE start_ns >= %(low)s AND start_ns < %(high)s",
        {"low": micro * 1000, "high": (micro + 1) * 1000},
    )
    rows.sort(key=_key)
    rank = event_id % RANKS
    if rank >= len(rows):
        return None
    chosen = rows[rank]
    return Row(event_id, *chosen[:15]), chosen[17], int(chosen[15])


def newest(store: ClickHouseStore, where: Where, limit: int) -> list[Row]:
    """The newest ``limit`` events of a selection already narrowed to a few (kind, name,
    hour) slices by its conditions (the Errors page's occurrences)."""
    fetched = store.execute(
        f"SELECT {_FETCH} FROM {store.table(schema.EVENTS)} WHERE {where.sql()} "
        f"ORDER BY {_KEY_DESC} LIMIT {int(limit)}",
        where.params,
    )
    return _ranked(store, fetched)


def stream(
    store: ClickHouseStore, where: Where, chunk_rows: int, window_events: int
) -> Iterator[tuple[list[Row], int, int]]:
    """Every selected event, oldest first, in chunks of at most ``chunk_rows``, read one
    window of at most about ``window_events`` events at a time (what the export holds in
    memory): (rows, hours walked, hours to walk)."""
    planned = plan(store, where, window_events)
    total = sum(-(-(high - low) // HOUR_NS) for low, high, _ in planned)
    walked = 0.0
    table = store.table(schema.EVENTS)
    span = ["start_ns >= %(low)s", "start_ns < %(high)s"]
    for low, high, _ in planned:
        walked += (high - low) / HOUR_NS
        fetched = store.execute(
            f"SELECT {_FETCH} FROM {table} WHERE {where.sql(span)}",
            {**where.params, "low": low, "high": high},
        )
        fetched.sort(key=_key)
        ranked = _ranked(store, fetched, (low, high))
        for start in range(0, len(ranked), chunk_rows):
            yield ranked[start : start + chunk_rows], round(walked), total
