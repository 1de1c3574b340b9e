"""Stored events streamed out as CSV or JSON lines, a window of ids at a time.

Shared by the dashboard's explorer export (its filters) and ``lookout export`` (a time range,
names and kinds). Events are walked by their primary key, which follows insertion and so time,
in windows of ``EXPORT_WINDOW_IDS`` ids: memory stays one window's rows whatever the number of
events, no index beyond the key is needed, and a time range becomes an id range first by a
binary search of the key (a few dozen primary-key reads). On a ClickHouse store the walk is
by windows of hours planned from the hour rollups (lookout.store.clickhouse.explorer), each
read, sorted and written out before the next.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from lookout.store import schema
from lookout.store.clickhouse import explorer as clickhouse_events
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.engine import SqlStore

NS = 1_000_000_000
EXPORT_WINDOW_IDS = 50_000
#: Rows read from the database (a server-side cursor where the driver has one) and written
#: out at a time: what an export holds in memory.
CHUNK_ROWS = 2_000
#: Events are stored with their start time; a batch may hold times a little out of id order.
TIME_SLACK_NS = 120 * NS
EXPORT_COLUMNS = (
    "id",
    "start",
    "kind",
    "name",
    "duration_ms",
    "outcome",
    "status",
    "host",
    "version",
    "request_id",
    "user",
    "client_ip",
    "error_type",
    "error_message",
    "fields",
    "tags",
)
#: The SQL conditions of a selection, made on the open connection (it may look names up);
#: None when nothing can match.
Conditions = Callable[[sa.Connection], list[Any] | None]
#: Told after each window: (ids walked so far, ids to walk, rows written so far).
Progress = Callable[[int, int, int], None]


def event_columns() -> list[Any]:
    """An event's columns with its name, kind, host and version (see :func:`joined`)."""
    e, n, s = schema.events, schema.names, schema.sources
    return [
        e.c.id,
        e.c.start_ns,
        n.c.kind,
        n.c.name,
        e.c.duration_ns,
        e.c.is_error,
        e.c.status,
        s.c.host,
        s.c.app_version,
        e.c.request_id,
        e.c.group_key,
        e.c.client_ip,
        e.c.error_type,
        e.c.error_message,
        e.c.fields,
        e.c.tags,
    ]


def joined() -> Any:
    """Events joined to their names and sources."""
    e, n, s = schema.events, schema.names, schema.sources
    return e.join(n, n.c.id == e.c.name_id).join(s, s.c.id == e.c.source_id)


def id_bounds(
    connection: sa.Connection, from_ns: int | None, to_ns: int | None
) -> tuple[int, int] | None:
    """The ids to walk, [low, high]: the whole table, narrowed to the time range by a binary
    search of the key (ids follow time, up to ``TIME_SLACK_NS``)."""
    e = schema.events
    low, high = connection.execute(sa.select(sa.func.min(e.c.id), sa.func.max(e.c.id))).one()
    if low is None:
        return None
    if from_ns is not None:
        low = _first_id_at(connection, low, high, from_ns - TIME_SLACK_NS)
    if to_ns is not None:
        high = _first_id_at(connection, low, high, to_ns + TIME_SLACK_NS)
    return (low, high) if low <= high else None


def _first_id_at(connection: sa.Connection, low: int, high: int, start_ns: int) -> int:
    """About the first id whose event starts at ``start_ns`` or later (ids may have gaps)."""
    e = schema.events
    probe = (
        sa.select(e.c.id, e.c.start_ns)
        .where(e.c.id >= sa.bindparam("at"))
        .order_by(e.c.id)
        .limit(1)
    )
    while low < high:
        middle = (low + high) // 2
        row = connection.execute(probe, {"at": middle}).first()
        if row is None or row[1] >= start_ns:
            high = middle
        else:
            low = row[0] + 1
    return low


def selection(
    kinds: Sequence[str] = (),
    names: Sequence[str] = (),
    from_ns: int | None = None,
    to_ns: int | None = None,
) -> Conditions:
    """The conditions of events of these kinds and names (empty: any) in [from_ns, to_ns)."""
    e, n = schema.events, schema.names

    def conditions(connection: sa.Connection) -> list[Any] | None:
        found: list[Any] = []
        if kinds or names:
            query = sa.select(n.c.id)
            if kinds:
                query = query.where(n.c.kind.in_(list(kinds)))
            if names:
                query = query.where(n.c.name.in_(list(names)))
            ids = list(connection.execute(query).scalars())
            if not ids:
                return None
            found.append(e.c.name_id.in_(ids))
        if from_ns is not None:
            found.append(e.c.start_ns >= from_ns)
        if to_ns is not None:
            found.append(e.c.start_ns < to_ns)
        return found

    return conditions


def clickhouse_selection(
    kinds: Sequence[str] = (),
    names: Sequence[str] = (),
    from_ns: int | None = None,
    to_ns: int | None = None,
) -> clickhouse_events.Where:
    """:func:`selection` on a ClickHouse store."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    for column, values in (("kind", kinds), ("name", names)):
        if values:
            conditions.append(f"{column} IN %(s_{column})s")
            params[f"s_{column}"] = tuple(values)
    if from_ns is not None:
        conditions.append("start_ns >= %(s_from)s")
        params["s_from"] = from_ns
    if to_ns is not None:
        conditions.append("start_ns < %(s_to)s")
        params["s_to"] = to_ns
    return clickhouse_events.Where(
        conditions, params, tuple(kinds), tuple(names), from_ns=from_ns, to_ns=to_ns
    )


def stream(
    store: SqlStore,
    conditions: Conditions,
    *,
    from_ns: int | None,
    to_ns: int | None,
    as_csv: bool,
    progress: Progress | None = None,
    clickhouse: clickhouse_events.Where | None = None,
) -> Iterator[str]:
    """Every selected event, oldest first, as CSV (a header first) or JSON lines, in chunks of
    at most ``CHUNK_ROWS`` events. On a ClickHouse store ``clickhouse`` is the selection
    (walked a window of hours at a time, planned from the hour rollups)."""
    if isinstance(store, ClickHouseStore):
        if clickhouse is None:
            raise ValueError("a ClickHouse store's export needs its selection (clickhouse=)")
        yield from _clickhouse_stream(store, clickhouse, as_csv=as_csv, progress=progress)
        return
    with store.read_engine.connect() as connection:
        where = conditions(connection)
        bounds = None if where is None else id_bounds(connection, from_ns, to_ns)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if as_csv:
            writer.writerow(EXPORT_COLUMNS)
            yield _take(buffer)
        if where is None or bounds is None:
            if progress is not None:
                progress(0, 0, 0)
            return
        low, high = bounds
        total, written = high - low + 1, 0
        base = sa.select(*event_columns()).select_from(joined())
        for start in range(low, high + 1, EXPORT_WINDOW_IDS):
            end = min(high, start + EXPORT_WINDOW_IDS - 1)
            query = base.where(schema.events.c.id.between(start, end), *where)
            rows = connection.execute(
                query.order_by(schema.events.c.id),
                execution_options={"stream_results": True, "yield_per": CHUNK_ROWS},
            )
            for chunk in rows.partitions(CHUNK_ROWS):
                values = [_export_values(row) for row in chunk]
                written += len(values)
                yield _text(values, writer, buffer) if as_csv else _json_lines(values)
            if progress is not None:
                progress(end - low + 1, total, written)


def _clickhouse_stream(
    store: ClickHouseStore,
    where: clickhouse_events.Where,
    *,
    as_csv: bool,
    progress: Progress | None,
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if as_csv:
        writer.writerow(EXPORT_COLUMNS)
        yield _take(buffer)
    written, walked, total = 0, 0, 0
    for rows, walked, total in clickhouse_events.stream(
        store, where, CHUNK_ROWS, EXPORT_WINDOW_IDS
    ):
        values = [_export_values(row) for row in rows]
        written += len(values)
        yield _text(values, writer, buffer) if as_csv else _json_lines(values)
        if progress is not None:
            progress(walked, total, written)
    if progress is not None:
        progress(total, total, written)


def _text(values: list[tuple[Any, ...]], writer: Any, buffer: io.StringIO) -> str:
    writer.writerows(values)
    return _take(buffer)


#: One encoder for every line: json.dumps with its own separators builds a new one per call.
_LINE_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _json_lines(values: list[tuple[Any, ...]]) -> str:
    encode = _LINE_ENCODER.encode
    return "".join(encode(dict(zip(EXPORT_COLUMNS, row, strict=True))) + "\n" for row in values)


def _export_values(row: Any) -> tuple[Any, ...]:
    """A row of :func:`event_columns` as exported: seconds, milliseconds and an outcome in
    place of the stored integers. Unpacked by position: reading 16 attributes by name cost
    more than the CSV writer (36 % of an export's time)."""
    event_id, start_ns, kind, name, duration_ns, is_error, *rest = row
    return (
        event_id,
        start_ns / NS,
        kind,
        name,
        duration_ns / 1e6,
        "error" if is_error else "ok",
        *rest,
    )


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
