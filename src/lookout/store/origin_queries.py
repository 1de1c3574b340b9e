"""Reading origin rollups: merged rows for names over a time range, filtered by version and
host, per bucket and per version, host or origin.

This is the one function every page calls for "filter by version / host" and "compare
versions / hosts": it reads one row per (name, origin, stored bucket) in the range through the
tables' ``(name_id, origin_id, bucket_start)`` key (the origins wanted are listed explicitly,
so each name's read is a few index ranges) and merges them in Python (sketches are JSON). The
cost follows the number of rollup rows, never the number of events: 24 hours of one name on
ten origins is 14,400 minute rows, or 240 hour rows.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from lookout.store.clickhouse import rollup_reads
from lookout.store.delta_reads import rollup_source
from lookout.store.engine import SqlStore
from lookout.store.rollups import RollupDelta
from lookout.store.schema import ORIGIN_ROLLUP_TABLES, names, origins

NS = 1_000_000_000
#: Ranges of up to this many seconds read minute rows when no bucket size is asked for.
MINUTE_ROWS_UP_TO_S = 86400
GroupBy = Literal["version", "host", "origin"]


@dataclass(frozen=True, slots=True)
class Origin:
    """A (host, app version) that recorded events; ``version`` is '' when the app set none."""

    id: int
    host: str
    version: str
    first_ns: int


@dataclass(slots=True)
class OriginRollup:
    """Merged rollups of one name (and bucket, version, host when grouped by them).

    ``bucket_start`` is None unless a bucket size was asked for; ``version`` and ``host`` are
    None unless grouped by them (``group_by="origin"`` sets both)."""

    kind: str
    name: str
    bucket_start: int | None
    version: str | None
    host: str | None
    delta: RollupDelta


def list_origins(store: SqlStore) -> list[Origin]:
    """Every origin, oldest first (the order versions are shown in on every page)."""
    if store.backend == "clickhouse":  # no origins table: numbered here, oldest first
        found = rollup_reads.origins(store)  # type: ignore[arg-type]
        return [Origin(n, host, version, first) for n, (host, version, first) in enumerate(found)]
    query = sa.select(origins).order_by(origins.c.first_ns, origins.c.id)
    with store.read_engine.connect() as connection:
        return [
            Origin(row.id, row.host, row.app_version, row.first_ns)
            for row in connection.execute(query)
        ]


def versions(store: SqlStore) -> list[str]:
    """Distinct app versions, in the order they were first seen."""
    return list(dict.fromkeys(origin.version for origin in list_origins(store)))


def hosts(store: SqlStore) -> list[str]:
    """Distinct hosts, in the order they were first seen."""
    return list(dict.fromkeys(origin.host for origin in list_origins(store)))


def origin_rollups(
    store: SqlStore,
    *,
    start_s: int,
    end_s: int | None = None,
    bucket_s: int | None = None,
    kinds: Collection[str] | None = None,
    names_: Collection[tuple[str, str]] | None = None,
    version: str | None = None,
    host: str | None = None,
    group_by: GroupBy | None = None,
) -> list[OriginRollup]:
    """Rollups of names over ``[start_s, end_s)`` (epoch seconds; ``end_s`` None: now),
    merged per name, and per bucket of ``bucket_s`` seconds when given (a multiple of 60;
    multiples of 3600 read hour rows), and per version / host / origin when ``group_by`` says.

    ``names_`` is a collection of (kind, name), ``kinds`` limits by kind (both None: every
    name); ``version`` and ``host`` keep only those origins (version '' is "no version").
    The range's start is rounded down to the rows read (minute or hour); without
    ``bucket_s``, ranges over a day read hour rows.
    Results are sorted by kind, name, bucket, version's first sighting, host.
    """
    end_s = int(time.time()) + 1 if end_s is None else end_s
    if bucket_s is not None and (bucket_s <= 0 or bucket_s % 60):
        raise ValueError(f"bucket_s must be a positive multiple of 60; got {bucket_s}")
    if bucket_s is None:
        stored = 60 if end_s - start_s <= MINUTE_ROWS_UP_TO_S else 3600
    else:
        stored = 3600 if bucket_s % 3600 == 0 else 60
    if store.backend == "clickhouse":
        return _clickhouse_rollups(
            store, stored, start_s, end_s, bucket_s, kinds, names_, version, host, group_by
        )
    table = rollup_source(store, ORIGIN_ROLLUP_TABLES[stored])
    known = list_origins(store)
    wanted = [
        origin
        for origin in known
        if (version is None or origin.version == version) and (host is None or origin.host == host)
    ]
    if not wanted:
        return []
    by_id = {origin.id: origin for origin in wanted}
    rank: dict[str, int] = {}
    for index, origin in enumerate(known):
        rank.setdefault(origin.version, index)
    name_of = _names(store, kinds, names_)
    if not name_of:
        return []
    # Origins always listed: the key is (name_id, origin_id, bucket_start), so each name's read
    # is one index range per origin rather than every bucket the name ever had.
    query = sa.select(table).where(
        table.c.origin_id.in_(list(by_id)),
        table.c.bucket_start >= start_s // stored * stored,
        table.c.bucket_start < end_s,
    )
    if kinds is not None or names_ is not None:
        query = query.where(table.c.name_id.in_(list(name_of)))
    merged: dict[tuple[str, str, int | None, str | None, str | None], RollupDelta] = {}
    with store.read_engine.connect() as connection:
        for row in connection.execute(query):
            origin = by_id[row.origin_id]
            found_name = name_of.get(row.name_id)
            if found_name is None:  # a name registered after the names were read
                continue
            bucket = None if bucket_s is None else row.bucket_start // bucket_s * bucket_s
            key = (
                *found_name,
                bucket,
                origin.version if group_by in ("version", "origin") else None,
                origin.host if group_by in ("host", "origin") else None,
            )
            delta = RollupDelta.from_row(row)
            found = merged.get(key)
            if found is None:
                merged[key] = delta
            else:
                found.merge(delta)
    results = [OriginRollup(*key, delta) for key, delta in merged.items()]
    results.sort(
        key=lambda r: (
            r.kind,
            r.name,
            -1 if r.bucket_start is None else r.bucket_start,
            -1 if r.version is None else rank[r.version],
            r.host or "",
        )
    )
    return results


def _clickhouse_rollups(
    store: SqlStore,
    stored: int,
    start_s: int,
    end_s: int,
    bucket_s: int | None,
    kinds: Collection[str] | None,
    names_: Collection[tuple[str, str]] | None,
    version: str | None,
    host: str | None,
    group_by: GroupBy | None,
) -> list[OriginRollup]:
    """:func:`origin_rollups` on ClickHouse: grouped in the server, in the same order."""
    by = {"version": ("app_version",), "host": ("host",), "origin": ("app_version", "host")}
    columns = by.get(group_by or "", ())
    select = rollup_reads.Select(
        stored=stored,
        start_s=start_s // stored * stored,
        end_s=end_s,
        kinds=kinds if kinds is not None or names_ is None else {k for k, _ in names_},
        names=names_,
        version=version,
        host=host,
        bucket_s=bucket_s,
        by=columns,
    )
    rank: dict[str, int] = {}
    for index, origin in enumerate(list_origins(store)):
        rank.setdefault(origin.version, index)
    results = []
    for key, delta in rollup_reads.merged(store, select).items():  # type: ignore[arg-type]
        kind, name, *rest = key
        bucket = int(rest.pop(0)) if bucket_s is not None else None
        found = dict(zip(columns, rest, strict=True))
        results.append(
            OriginRollup(kind, name, bucket, found.get("app_version"), found.get("host"), delta)
        )
    results.sort(
        key=lambda r: (
            r.kind,
            r.name,
            -1 if r.bucket_start is None else r.bucket_start,
            -1 if r.version is None else rank.get(r.version, len(rank)),
            r.host or "",
        )
    )
    return results


def _names(
    store: SqlStore,
    kinds: Collection[str] | None,
    names_: Collection[tuple[str, str]] | None,
) -> dict[int, tuple[str, str]]:
    """The ids of the names asked for (the names table is small: read whole)."""
    pairs = None if names_ is None else set(names_)
    with store.read_engine.connect() as connection:
        rows = connection.execute(sa.select(names.c.id, names.c.kind, names.c.name))
        return {
            ident: (kind, name)
            for ident, kind, name in rows
            if (kinds is None or kind in kinds) and (pairs is None or (kind, name) in pairs)
        }
