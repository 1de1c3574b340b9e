"""The Errors page's reads: error groups, their hourly buckets, and a group's occurrences.

The list and a group's charts read only the groups table and its hourly buckets (per group,
name and origin), never the raw events: a range's count is a sum of a few hundred bucket
rows whatever the number of events. Counts in a range are whole hours (a range starting at
10:20 counts from 10:00). A group's page reads raw events for its latest occurrence and its
list of occurrences only, through the ``(name_id, start_ns)`` index: the buckets say which
names and which recent hours hold the newest occurrences, and those hours are read, newest
first, until the list is full (at most 24 of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lookout.dashboard import explorer
from lookout.store.engine import SqlStore
from lookout.store.export import event_columns, joined
from lookout.store.fingerprint import is_app_path
from lookout.store.origin_queries import list_origins
from lookout.store.schema import error_buckets, error_groups, error_users, events, names

NS = 1_000_000_000
HOUR = 3600
SORTS = ("count", "last_seen", "first_seen")
#: Groups one list answer holds at most, and occurrences a group's page lists.
LIST_LIMIT = 100
OCCURRENCES = 50
SPARK_POINTS = 48
#: (name, hour) slices of raw events a group's page reads at most for its occurrences.
MAX_SLICES = 24


@dataclass(frozen=True, slots=True)
class Filters:
    """What the list and a group's charts are narrowed to (None: everything)."""

    version: str | None = None
    host: str | None = None
    name: str | None = None
    status: str | None = None


def _origin_ids(store: SqlStore, filters: Filters) -> list[int] | None:
    """The origins a version/host filter keeps (None: no such filter)."""
    if filters.version is None and filters.host is None:
        return None
    return [
        origin.id
        for origin in list_origins(store)
        if (filters.version is None or origin.version == filters.version)
        and (filters.host is None or origin.host == filters.host)
    ]


def _bucket_conditions(
    store: SqlStore, connection: sa.Connection, filters: Filters, start_s: int, end_s: int
) -> list[Any] | None:
    """Conditions on the buckets for a range and filters; None when nothing can match."""
    b = error_buckets
    found: list[Any] = [b.c.bucket_start >= start_s // HOUR * HOUR, b.c.bucket_start < end_s]
    origin_ids = _origin_ids(store, filters)
    if origin_ids is not None:
        if not origin_ids:
            return None
        found.append(b.c.origin_id.in_(origin_ids))
    if filters.name is not None:
        name_ids = list(
            connection.execute(sa.select(names.c.id).where(names.c.name == filters.name)).scalars()
        )
        if not name_ids:
            return None
        found.append(b.c.name_id.in_(name_ids))
    return found


def _group(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "error_type": row.error_type,
        "message": row.message,
        "culprit": row.culprit,
        "first_seen_ns": int(row.first_ns),
        "last_seen_ns": int(row.last_ns),
        "total": int(row.count),
        "first_version": row.first_version,
        "last_version": row.last_version,
        "status": row.status,
        "regression": bool(row.regression),
    }


def spark_step(start_s: int, end_s: int) -> int:
    """The sparkline's bucket: whole hours, at most :data:`SPARK_POINTS` of them."""
    hours = max(1, -(-(end_s - start_s // HOUR * HOUR) // HOUR))
    return -(-hours // SPARK_POINTS) * HOUR


def list_groups(
    store: SqlStore,
    start_s: int,
    end_s: int,
    *,
    filters: Filters = Filters(),
    sort: str = "count",
    limit: int = LIST_LIMIT,
) -> dict[str, Any]:
    """The groups that occurred in the range (with the filters), sorted, with their count in
    the range, the names they occur in, users affected, and a sparkline."""
    b, gr = error_buckets, error_groups
    step = spark_step(start_s, end_s)
    first_bucket = start_s // HOUR * HOUR
    answer: dict[str, Any] = {
        "from": start_s,
        "to": end_s,
        "spark_from": first_bucket,
        "spark_step_s": step,
        "spark_points": -(-(end_s - first_bucket) // step),
        "groups": [],
    }
    with store.read_engine.connect() as connection:
        conditions = _bucket_conditions(store, connection, filters, start_s, end_s)
        if conditions is None:
            return answer
        in_range = sa.func.sum(b.c.count).label("in_range")
        counted = (
            sa.select(b.c.group_id, in_range).where(*conditions).group_by(b.c.group_id).subquery()
        )
        query = sa.select(gr, counted.c.in_range).join(counted, counted.c.group_id == gr.c.id)
        if filters.status is not None:
            query = query.where(gr.c.status == filters.status)
        order = {
            "count": counted.c.in_range.desc(),
            "last_seen": gr.c.last_ns.desc(),
            "first_seen": gr.c.first_ns.desc(),
        }[sort]
        rows = connection.execute(query.order_by(order, gr.c.id.desc()).limit(limit)).all()
        if not rows:
            return answer
        ids = [int(row.id) for row in rows]
        per_hour = connection.execute(
            sa.select(b.c.group_id, b.c.bucket_start, b.c.name_id, sa.func.sum(b.c.count))
            .where(*conditions, b.c.group_id.in_(ids))
            .group_by(b.c.group_id, b.c.bucket_start, b.c.name_id)
        ).all()
        users: dict[Any, Any] = dict(
            connection.execute(
                sa.select(error_users.c.group_id, sa.func.count())
                .where(error_users.c.group_id.in_(ids))
                .group_by(error_users.c.group_id)
            ).all()
        )
        name_of = _names(connection, {int(row[2]) for row in per_hour})
    spark: dict[int, list[int]] = {ident: [0] * answer["spark_points"] for ident in ids}
    where: dict[int, dict[int, int]] = {ident: {} for ident in ids}
    for group_id, bucket, name_id, count in per_hour:
        index = min((int(bucket) - first_bucket) // step, answer["spark_points"] - 1)
        spark[int(group_id)][index] += int(count)
        where[int(group_id)][int(name_id)] = where[int(group_id)].get(int(name_id), 0) + int(count)
    for row in rows:
        ident = int(row.id)
        found = _group(row)
        found["count"] = int(row.in_range)
        found["users"] = int(users.get(ident, 0))
        found["where"] = _where(where[ident], name_of)
        found["spark"] = spark[ident]
        answer["groups"].append(found)
    return answer


def _names(connection: sa.Connection, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = connection.execute(
        sa.select(names.c.id, names.c.kind, names.c.name).where(names.c.id.in_(ids))
    )
    return {int(row.id): (row.kind, row.name) for row in rows}


def _where(counts: dict[int, int], name_of: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
    """The names a group occurs in, busiest first."""
    return [
        {"kind": name_of[ident][0], "name": name_of[ident][1], "count": count}
        for ident, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if ident in name_of
    ]


def traceback_lines(traceback: str | None) -> list[dict[str, Any]]:
    """A traceback's lines, each marked as the application's (a frame of its code and the
    source line under it) or not, with the fingerprint's own rule (store/fingerprint.py)."""
    if not traceback:
        return []
    lines: list[dict[str, Any]] = []
    in_app = False
    for line in traceback.splitlines():
        stripped = line.lstrip()
        if stripped.startswith('File "') and '", line ' in stripped:
            in_app = is_app_path(stripped[6 : stripped.index('", line ')])
            lines.append({"text": line, "app": in_app, "frame": True})
        elif line.startswith("    ") and lines and lines[-1]["frame"] is not None:
            lines.append({"text": line, "app": in_app, "frame": False})
        else:
            in_app = False
            lines.append({"text": line, "app": False, "frame": None})
    return lines


def group_detail(
    store: SqlStore, group_id: int, start_s: int, end_s: int, *, filters: Filters = Filters()
) -> dict[str, Any] | None:
    """One group: its row, occurrences over time, per version and per host in the range, the
    names it occurs in, its latest occurrence whole, and its newest occurrences."""
    b = error_buckets
    origin_of = {origin.id: origin for origin in list_origins(store)}
    with store.read_engine.connect() as connection:
        row = connection.execute(
            sa.select(error_groups).where(error_groups.c.id == group_id)
        ).first()
        if row is None:
            return None
        conditions = _bucket_conditions(store, connection, filters, start_s, end_s)
        buckets: Sequence[Any] = []
        if conditions is not None:
            buckets = connection.execute(
                sa.select(b.c.bucket_start, b.c.name_id, b.c.origin_id, b.c.count).where(
                    *conditions, b.c.group_id == group_id
                )
            ).all()
        users = connection.execute(
            sa.select(sa.func.count())
            .select_from(error_users)
            .where(error_users.c.group_id == group_id)
        ).scalar_one()
        name_of = _names(connection, {int(bucket.name_id) for bucket in buckets})
        occurrences = _occurrences(connection, group_id)
    over_time: dict[int, int] = {}
    per_version: dict[str, int] = {}
    per_host: dict[str, int] = {}
    per_name: dict[int, int] = {}
    for bucket_start, name_id, origin_id, count in buckets:
        over_time[int(bucket_start)] = over_time.get(int(bucket_start), 0) + int(count)
        origin = origin_of.get(int(origin_id))
        if origin is not None:
            per_version[origin.version] = per_version.get(origin.version, 0) + int(count)
            per_host[origin.host] = per_host.get(origin.host, 0) + int(count)
        per_name[int(name_id)] = per_name.get(int(name_id), 0) + int(count)
    versions_in_order = list(dict.fromkeys(origin.version for origin in origin_of.values()))
    hosts_in_order = list(dict.fromkeys(origin.host for origin in origin_of.values()))
    return detail_answer(
        store,
        _group(row),
        start_s=start_s,
        end_s=end_s,
        users=int(users),
        where=_where(per_name, name_of),
        over_time=over_time,
        per_version=_counted("version", versions_in_order, per_version),
        per_host=_counted("host", hosts_in_order, per_host),
        occurrences=occurrences,
    )


def detail_answer(
    store: SqlStore,
    group: dict[str, Any],
    *,
    start_s: int,
    end_s: int,
    users: int,
    where: list[dict[str, Any]],
    over_time: dict[int, int],
    per_version: list[dict[str, Any]],
    per_host: list[dict[str, Any]],
    occurrences: list[dict[str, Any]],
) -> dict[str, Any]:
    """A group's page from its parts (the SQL and the ClickHouse reads make the same)."""
    latest = explorer.event(store, occurrences[0]["id"]) if occurrences else None
    group.update(
        {
            "from": start_s,
            "to": end_s,
            "count": sum(over_time.values()),
            "users": users,
            "where": where,
            "over_time": [{"t": t, "count": over_time[t]} for t in sorted(over_time)],
            "per_version": per_version,
            "per_host": per_host,
            "latest": latest,
            "traceback": traceback_lines(latest["traceback"] if latest else None),
            "occurrences": occurrences,
        }
    )
    return group


def _counted(key: str, order: list[str], counts: dict[str, int]) -> list[dict[str, Any]]:
    """Counts per version or host, in the order they were first seen (as on every page)."""
    return [{key: value, "count": counts[value]} for value in order if value in counts]


def _occurrences(connection: sa.Connection, group_id: int) -> list[dict[str, Any]]:
    """The group's newest occurrences still stored as raw events, newest first.

    Read one (name, hour) slice of the events at a time, newest bucket first, through the
    ``(name_id, start_ns)`` index, until :data:`OCCURRENCES` are found or
    :data:`MAX_SLICES` slices are read: a frequent group is one or two slices, and a rare
    group's read stays bounded (its list then holds what those hours had)."""
    b, e = error_buckets, events
    recent = connection.execute(
        sa.select(b.c.bucket_start, b.c.name_id)
        .where(b.c.group_id == group_id)
        .group_by(b.c.bucket_start, b.c.name_id)
        .order_by(b.c.bucket_start.desc(), b.c.name_id)
        .limit(MAX_SLICES)
    ).all()
    found: list[dict[str, Any]] = []
    last_hour = None
    for bucket_start, name_id in recent:
        if len(found) >= OCCURRENCES and bucket_start != last_hour:
            break  # full, and every name of the newest hours read (they interleave)
        last_hour = bucket_start
        query = (
            sa.select(*event_columns())
            .select_from(joined())
            .where(
                e.c.name_id == name_id,
                e.c.start_ns >= int(bucket_start) * NS,
                e.c.start_ns < (int(bucket_start) + HOUR) * NS,
                e.c.error_group_id == group_id,
            )
            .order_by(e.c.start_ns.desc(), e.c.id.desc())
            .limit(OCCURRENCES)
        )
        found += [explorer.summary_row(row) for row in connection.execute(query)]
    found.sort(key=lambda row: (-row["start_ns"], -row["id"]))
    return found[:OCCURRENCES]
