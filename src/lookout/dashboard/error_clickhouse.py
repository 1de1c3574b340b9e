"""The Errors page's reads on a ClickHouse store: the same answers as
:mod:`lookout.dashboard.error_data`, from the server-merged group states and hourly buckets
(:mod:`lookout.store.clickhouse.errors`), never a scan of the raw events for the list.

A group's page reads raw events for its occurrences only: the buckets say which (hour, kind,
name) slices hold the newest ones, and those slices are read, each a range of the table's
(kind, name, start_ns) order.
"""

from __future__ import annotations

from typing import Any

from lookout.dashboard import explorer
from lookout.dashboard.error_data import (
    LIST_LIMIT,
    MAX_SLICES,
    OCCURRENCES,
    Filters,
    detail_answer,
    spark_step,
)
from lookout.store.clickhouse import errors
from lookout.store.clickhouse import explorer as raw
from lookout.store.clickhouse.store import ClickHouseStore

NS = 1_000_000_000
HOUR = 3600


def _group(group: errors.Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "error_type": group.error_type,
        "message": group.message,
        "culprit": group.culprit,
        "first_seen_ns": group.first_ns,
        "last_seen_ns": group.last_ns,
        "total": group.count,
        "first_version": group.first_version,
        "last_version": group.last_version,
        "status": group.status,
        "regression": bool(group.regression),
    }


def _bucket_filter(filters: Filters) -> errors.BucketFilter:
    return errors.BucketFilter(version=filters.version, host=filters.host, name=filters.name)


def _where(counts: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "name": name, "count": count}
        for (kind, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def list_groups(
    store: ClickHouseStore,
    start_s: int,
    end_s: int,
    *,
    filters: Filters,
    sort: str = "count",
    limit: int = LIST_LIMIT,
) -> dict[str, Any]:
    """:func:`lookout.dashboard.error_data.list_groups` on ClickHouse."""
    step = spark_step(start_s, end_s)
    first_bucket = start_s // HOUR * HOUR
    points = -(-(end_s - first_bucket) // step)
    answer: dict[str, Any] = {
        "from": start_s,
        "to": end_s,
        "spark_from": first_bucket,
        "spark_step_s": step,
        "spark_points": points,
        "groups": [],
    }
    chosen = _bucket_filter(filters)
    counts = errors.range_counts(store, start_s, end_s, chosen)
    if not counts:
        return answer
    found = [
        group
        for group in errors.groups(store, counts)
        if filters.status is None or group.status == filters.status
    ]
    order = {
        "count": lambda g: (-counts[g.id], -g.id),
        "last_seen": lambda g: (-g.last_ns, -g.id),
        "first_seen": lambda g: (-g.first_ns, -g.id),
    }[sort]
    found.sort(key=order)
    found = found[:limit]
    spark: dict[int, list[int]] = {group.id: [0] * points for group in found}
    where: dict[int, dict[tuple[str, str], int]] = {group.id: {} for group in found}
    sparks, names = errors.sparks_and_names(store, spark, start_s, end_s, chosen, step)
    for ident, point, count in sparks:
        spark[ident][min(point, points - 1)] += count
    for ident, kind, name, count in names:
        where[ident][(kind, name)] = count
    for group in found:
        row = _group(group)
        row["count"] = counts[group.id]
        row["users"] = group.users
        row["where"] = _where(where[group.id])
        row["spark"] = spark[group.id]
        answer["groups"].append(row)
    return answer


def group_detail(
    store: ClickHouseStore,
    group_id: int,
    start_s: int,
    end_s: int,
    *,
    filters: Filters,
) -> dict[str, Any] | None:
    """:func:`lookout.dashboard.error_data.group_detail` on ClickHouse."""
    found = errors.groups(store, [group_id])
    if not found:
        return None
    group = found[0]
    over_time: dict[int, int] = {}
    per_version: dict[str, int] = {}
    per_host: dict[str, int] = {}
    per_name: dict[tuple[str, str], int] = {}
    first_seen: dict[tuple[str, str], int] = {}
    for _, bucket, kind, name, version, host, count in errors.buckets(
        store, [group_id], start_s, end_s, _bucket_filter(filters)
    ):
        over_time[bucket] = over_time.get(bucket, 0) + count
        per_version[version] = per_version.get(version, 0) + count
        per_host[host] = per_host.get(host, 0) + count
        per_name[(kind, name)] = per_name.get((kind, name), 0) + count
        for key in (("v", version), ("h", host)):
            first_seen[key] = min(first_seen.get(key, bucket), bucket)
    versions = sorted(per_version, key=lambda v: (first_seen[("v", v)], v))
    hosts = sorted(per_host, key=lambda h: (first_seen[("h", h)], h))
    return detail_answer(
        store,
        _group(group),
        start_s=start_s,
        end_s=end_s,
        users=group.users,
        where=_where(per_name),
        over_time=over_time,
        per_version=[{"version": v, "count": per_version[v]} for v in versions],
        per_host=[{"host": h, "count": per_host[h]} for h in hosts],
        occurrences=_occurrences(store, group_id),
    )


def _occurrences(store: ClickHouseStore, group_id: int) -> list[dict[str, Any]]:
    """The group's newest occurrences still stored as raw events, newest first: the newest
    (hour, kind, name) slices of its buckets read in one query, each a key range."""
    slices = errors.recent_slices(store, group_id, MAX_SLICES)
    if not slices:
        return []
    ranges: list[str] = []
    params: dict[str, Any] = {"group": group_id}
    for number, (hour, kind, name) in enumerate(slices):
        ranges.append(
            f"kind = %(k{number})s AND name = %(n{number})s "
            f"AND start_ns >= {hour * NS} AND start_ns < {(hour + HOUR) * NS}"
        )
        params[f"k{number}"], params[f"n{number}"] = kind, name
    where = raw.Where(
        ["error_group = %(group)s", " OR ".join(f"({part})" for part in ranges)], params
    )
    return [explorer.summary_row(row) for row in raw.newest(store, where, OCCURRENCES)]
