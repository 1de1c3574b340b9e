"""Error groups on ClickHouse: fingerprints made by the writer, groups merged by the server.

The SQL store registers each fingerprint's group row and updates it with every batch. On
ClickHouse nothing is updated in place:

- the writer (the sink's thread, never the monitored call) fingerprints each error event with
  the SQL store's own rules (:mod:`lookout.store.fingerprint`, cached per distinct error) and
  stores the group in the event's row (:data:`.error_schema.ERROR_COLUMNS`). A group's id is a
  31-bit number of its fingerprint, so every writer of a fleet gives one bug the same id
  without asking anyone (two of a few thousand groups share an id with a probability of about
  one in a thousand);
- materialized views (:mod:`.schema`) aggregate those rows into per-group states (count,
  first and last seen, versions, first message, users) and hourly buckets per name, version
  and host, merged by the server in the background;
- what is mutable, a group's status (resolved, ignored) and its time, is a row of the SQL
  settings store's own ``lookout_error_groups`` table, written when an admin acts. Whether a
  resolved group came back (a regression) is decided when it is read: it occurred after it
  was resolved.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lookout.events import ERROR, Event
from lookout.store.clickhouse import error_schema, schema
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.dialects import insert_ignoring_conflicts
from lookout.store.error_groups import STATUSES
from lookout.store.fingerprint import Fingerprint, fingerprint
from lookout.store.schema import error_groups

NS = 1_000_000_000
#: Fingerprints remembered per writer, emptied when full.
MAX_CACHED = 20_000
_GROUP_MASK = 0x7FFFFFFF


def group_id(key: str) -> int:
    """A group's id from its fingerprint (hex): 31 bits, never 0 (0 is "no error")."""
    return int(key[:8], 16) & _GROUP_MASK or 1


class Grouper:
    """One writer's fingerprints: the error columns of its batches."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], tuple[int, str, str]] = {}

    def columns(self, batch: Sequence[Event]) -> list[list[Any]]:
        """``error_group``, ``error_label``, ``error_culprit`` of each event (0, '' and ''
        for events that are no error: one comparison each)."""
        groups: list[int] = [0] * len(batch)
        labels: list[str] = [""] * len(batch)
        culprits: list[str] = [""] * len(batch)
        for index, event in enumerate(batch):
            if event.outcome != ERROR:
                continue
            groups[index], labels[index], culprits[index] = self._group(event)
        return [groups, labels, culprits]

    def _group(self, event: Event) -> tuple[int, str, str]:
        error_type, message, traceback = event.error_type, event.error_message, event.traceback
        status = event.status
        # the SQL writer's cache key: a traceback decides alone (with the type), otherwise the
        # message, or the name and status
        key = (
            (error_type, traceback)
            if traceback
            else (error_type, message, event.name if not (error_type or message) else 0, status)
        )
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            made: Fingerprint = fingerprint(error_type, message, traceback, event.name, status)
            found = self._cache[key] = (group_id(made.key), made.error_type[:255], made.culprit)
        return found


@dataclass(slots=True)
class Group:
    """A group as the SQL store's row reads (the Errors page and the error alert rules)."""

    id: int
    error_type: str
    message: str
    culprit: str
    first_ns: int
    last_ns: int
    count: int
    first_version: str
    last_version: str
    users: int
    status: str = "unresolved"
    status_ns: int = 0
    regression: int = 0
    regressed_ns: int | None = None


_GROUP_STATES = (
    "group_id, countMerge(count), minMerge(first_ns), maxMerge(last_ns), "
    "argMinMerge(first_version), argMaxMerge(last_version), anyMerge(label), "
    "anyMerge(culprit), argMinMerge(message), uniqIfMerge(users)"
)


def groups(
    store: ClickHouseStore, ids: Iterable[int] | None = None, *, last_since_ns: int | None = None
) -> list[Group]:
    """Groups with their merged states and statuses: those of ``ids`` (None: all), and of
    them those last seen at or after ``last_since_ns``."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if ids is not None:
        params["ids"] = tuple(sorted(set(ids)))
        if not params["ids"]:
            return []
        where.append("group_id IN %(ids)s")
    sql = f"SELECT {_GROUP_STATES} FROM {store.table(error_schema.ERROR_GROUPS)}"
    if where:
        sql += f" WHERE {' AND '.join(where)}"
    sql += " GROUP BY group_id"
    if last_since_ns is not None:
        sql += " HAVING maxMerge(last_ns) >= %(since)s"
        params["since"] = int(last_since_ns)
    found = [
        Group(
            id=int(ident),
            error_type=str(label),
            message=str(message),
            culprit=str(culprit),
            first_ns=int(first),
            last_ns=int(last),
            count=int(count),
            first_version=str(first_version),
            last_version=str(last_version),
            users=int(users),
        )
        for (
            ident,
            count,
            first,
            last,
            first_version,
            last_version,
            label,
            culprit,
            message,
            users,
        ) in store.execute(sql, params)
    ]
    _with_statuses(store, found)
    return found


def statuses(store: ClickHouseStore) -> dict[int, tuple[str, int]]:
    """(status, since ns) of every group an admin set a status on (the settings store)."""
    g = error_groups
    with store.read_engine.connect() as connection:
        rows = connection.execute(sa.select(g.c.id, g.c.status, g.c.status_ns)).all()
    return {int(row[0]): (str(row[1]), int(row[2])) for row in rows}


def _with_statuses(store: ClickHouseStore, found: list[Group]) -> None:
    """Each group's status; a resolved group seen after it was resolved is unresolved again,
    flagged as a regression from its first occurrence after that (read from the raw events:
    only for such groups)."""
    known = statuses(store)
    for group in found:
        status, since = known.get(group.id, ("unresolved", 0))
        group.status, group.status_ns = status, since
        if status == "resolved" and group.last_ns > since:
            group.status, group.regression = "unresolved", 1
            rows = store.execute(
                f"SELECT min(start_ns) FROM {store.table(schema.EVENTS)} "
                "WHERE start_ns > %(since)s AND error_group = %(id)s",
                {"since": since, "id": group.id},
            )
            group.regressed_ns = int(rows[0][0]) if rows and rows[0][0] else group.last_ns


def set_status(
    store: ClickHouseStore, ident: int, status: str, *, now_ns: int | None = None
) -> bool:
    """An admin's status for a group, kept in the settings store; False when ClickHouse has
    no such group."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    found = groups(store, [ident])
    if not found:
        return False
    group = found[0]
    moment = time.time_ns() if now_ns is None else now_ns
    row = {
        "id": ident,
        "fingerprint": f"clickhouse:{ident}",
        "error_type": group.error_type[:255],
        "message": group.message[:2000],
        "culprit": group.culprit[:255],
        "first_ns": group.first_ns,
        "last_ns": group.last_ns,
        "count": group.count,
        "first_version": group.first_version[:64],
        "last_version": group.last_version[:64],
        "status": status,
        "status_ns": moment,
        "regression": 0,
    }
    g = error_groups
    with store.engine.begin() as connection:
        connection.execute(insert_ignoring_conflicts(connection, g), [row])
        connection.execute(
            g.update().where(g.c.id == ident).values(status=status, status_ns=moment, regression=0)
        )
    return True


@dataclass(frozen=True, slots=True)
class BucketFilter:
    """What bucket reads are narrowed to (None: everything)."""

    version: str | None = None
    host: str | None = None
    name: str | None = None


def _bucket_where(
    start_s: int, end_s: int, filters: BucketFilter, ids: Iterable[int] | None
) -> tuple[str, dict[str, Any]]:
    where = ["bucket_start >= %(start)s", "bucket_start < %(end)s"]
    params: dict[str, Any] = {"start": start_s // 3600 * 3600, "end": end_s}
    for column, value in (
        ("app_version", filters.version),
        ("host", filters.host),
        ("name", filters.name),
    ):
        if value is not None:
            where.append(f"{column} = %({column})s")
            params[column] = value
    if ids is not None:
        where.append("group_id IN %(ids)s")
        params["ids"] = tuple(sorted(set(ids))) or (0,)
    return " AND ".join(where), params


def range_counts(
    store: ClickHouseStore, start_s: int, end_s: int, filters: BucketFilter
) -> dict[int, int]:
    """Occurrences per group in whole hours of the range, under the filters."""
    where, params = _bucket_where(start_s, end_s, filters, None)
    return {
        int(ident): int(count)
        for ident, count in store.execute(
            f"SELECT group_id, sum(count) FROM {store.table(error_schema.ERROR_BUCKETS)} "
            f"WHERE {where} GROUP BY group_id",
            params,
        )
    }


def buckets(
    store: ClickHouseStore, ids: Iterable[int], start_s: int, end_s: int, filters: BucketFilter
) -> list[tuple[int, int, str, str, str, str, int]]:
    """(group, hour, kind, name, version, host, count) of these groups in the range."""
    where, params = _bucket_where(start_s, end_s, filters, ids)
    return [
        (int(g), int(b), str(k), str(n), str(v), str(h), int(c))
        for g, b, k, n, v, h, c in store.execute(
            f"SELECT group_id, bucket_start, kind, name, app_version, host, sum(count) "
            f"FROM {store.table(error_schema.ERROR_BUCKETS)} WHERE {where} "
            "GROUP BY group_id, bucket_start, kind, name, app_version, host",
            params,
        )
    ]


def sparks_and_names(
    store: ClickHouseStore,
    ids: Iterable[int],
    start_s: int,
    end_s: int,
    filters: BucketFilter,
    step_s: int,
) -> tuple[list[tuple[int, int, int]], list[tuple[int, str, str, int]]]:
    """The list's sparklines and "where" of these groups, summed by the server: (group, point,
    count) with points of ``step_s`` from the range's first hour, and (group, kind, name,
    count). Hundreds of rows whatever the number of buckets."""
    where, params = _bucket_where(start_s, end_s, filters, ids)
    table = store.table(error_schema.ERROR_BUCKETS)
    first = start_s // 3600 * 3600
    points = store.execute(
        f"SELECT group_id, intDiv(bucket_start - {first}, {int(step_s)}) AS point, sum(count) "
        f"FROM {table} WHERE {where} GROUP BY group_id, point",
        params,
    )
    names = store.execute(
        f"SELECT group_id, kind, name, sum(count) FROM {table} WHERE {where} "
        "GROUP BY group_id, kind, name",
        params,
    )
    return (
        [(int(g), int(p), int(c)) for g, p, c in points],
        [(int(g), str(k), str(n), int(c)) for g, k, n, c in names],
    )


def recent_slices(store: ClickHouseStore, ident: int, limit: int) -> list[tuple[int, str, str]]:
    """The group's newest (hour, kind, name) slices, newest first: where its newest
    occurrences are among the raw events."""
    return [
        (int(b), str(k), str(n))
        for b, k, n in store.execute(
            f"SELECT bucket_start, kind, name FROM {store.table(error_schema.ERROR_BUCKETS)} "
            "WHERE group_id = %(id)s GROUP BY bucket_start, kind, name "
            f"ORDER BY bucket_start DESC, kind, name LIMIT {int(limit)}",
            {"id": ident},
        )
    ]
