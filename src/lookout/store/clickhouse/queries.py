"""The read side on ClickHouse: what :mod:`lookout.store.queries` and the dashboard's data
functions ask, answered from the rollup tables and the raw events.

Rollup reads finish the server's merge with ``-Merge`` combinators, grouped by (kind, name)
or (kind, name, bucket), and hand back the very :class:`~lookout.store.rollups.RollupDelta`
the SQL store's rows become, sketch included (the same DDSketch buckets, :mod:`.schema`), so
every summary, percentile and chart is computed by the same code on both stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.sql import visitors

from lookout.store.clickhouse import rollup_reads, schema
from lookout.store.clickhouse.store import ClickHouseStore
from lookout.store.rollups import RollupDelta

NS = 1_000_000_000


def merged_rollups(
    store: ClickHouseStore,
    *,
    bucket_s: int,
    start_s: int,
    kinds: Iterable[str] | None = None,
    name: tuple[str, str] | None = None,
    per_bucket: bool = False,
) -> list[tuple[str, str, int, RollupDelta]]:
    """(kind, name, bucket start or 0, merged delta) from ``start_s`` on, in key order.

    Args:
        bucket_s: 60 for minute rollups, 3600 for hour rollups.
        kinds: only these kinds (None: all).
        name: only this (kind, name).
        per_bucket: one row per bucket (a chart); else one per name (a summary).
    """
    if kinds is not None:
        kinds = tuple(kinds)
    elif name is not None:
        kinds = (name[0],)
    select = rollup_reads.Select(
        stored=bucket_s,
        start_s=start_s,
        end_s=2**32 - 1,
        kinds=kinds,
        names=None if name is None else [name],
        bucket_s=bucket_s if per_bucket else None,
    )
    found = rollup_reads.merged(store, select)
    return [
        (key[0], key[1], int(key[2]) if per_bucket else 0, delta)
        for key, delta in sorted(found.items())
    ]


def hour_counts(
    store: ClickHouseStore, kinds: Iterable[str], start_s: int
) -> list[tuple[str, str, int, int, int]]:
    """(kind, name, hour, count, last start ns) per hour from ``start_s`` on (the overview)."""
    return [
        (kind, name, int(bucket), int(count), int(last))
        for kind, name, bucket, count, last in store.execute(
            f"SELECT kind, name, bucket_start, countMerge(count), maxMerge(last_ns) "
            f"FROM {store.table(schema.ROLLUPS[3600])} "
            "WHERE bucket_start >= %(start)s AND kind IN %(kinds)s "
            "GROUP BY kind, name, bucket_start",
            {"start": int(start_s), "kinds": tuple(kinds)},
        )
    ]


def name_hour_counts(
    store: ClickHouseStore, kind: str, name: str, start_s: int
) -> list[tuple[int, int]]:
    """(hour, count) of one name from ``start_s`` on (the heatmap): counts only, because
    merging the sketch states is most of a rollup query's cost on 18.16."""
    return [
        (int(bucket), int(count))
        for bucket, count in store.execute(
            f"SELECT bucket_start, countMerge(count) FROM {store.table(schema.ROLLUPS[3600])} "
            "WHERE kind = %(kind)s AND name = %(name)s AND bucket_start >= %(start)s "
            "GROUP BY bucket_start",
            {"kind": kind, "name": name, "start": int(start_s)},
        )
    ]


def raw(
    store: ClickHouseStore,
    kind: str,
    name: str,
    columns: Sequence[Any],
    *,
    since_ns: int,
    where: Any = None,
    limit: int,
) -> list[tuple[Any, ...]]:
    """One name's raw events from ``since_ns`` on, newest first: the ``columns`` asked for.

    ``columns`` and ``where`` are the SQL store's own (SQLAlchemy columns of its events and
    sources tables, and an expression over them): the ClickHouse table holds the same columns
    by the same names, sources inline, so they are compiled against it as they are.
    """
    names = [column if isinstance(column, str) else column.name for column in columns]
    if where is None:  # every event counts: start where the newest ``limit`` of them begin
        since_ns = max(since_ns, newest_start_ns(store, kind, name, since_ns, limit))
    client = store.client()
    sql = client.substitute_params(
        f"SELECT {', '.join(names)} FROM {store.table(schema.EVENTS)} "
        "WHERE kind = %(kind)s AND name = %(name)s AND start_ns >= %(since)s",
        {"kind": kind, "name": name, "since": int(since_ns)},
        client.connection.context,
    )
    if where is not None:
        sql += f" AND ({where if isinstance(where, str) else compile_where(where)})"
    sql += f" ORDER BY start_ns DESC LIMIT {int(limit)}"
    return [tuple(row) for row in client.execute(sql)]


def newest_start_ns(store: ClickHouseStore, kind: str, name: str, since_ns: int, limit: int) -> int:
    """Where a name's newest ``limit`` events since ``since_ns`` start, to the minute below,
    from its minute rollups' counts (``since_ns`` when fewer are kept).

    18.16 cannot read a table in its sort order to answer ``ORDER BY start_ns DESC LIMIT n``:
    it reads every event of the range and keeps the top n (a week of one name at 100 million
    events is 2.5 million rows). Bounded so, a raw read scans about ``limit`` rows, and its
    answer is the same (the rows before the bound are not among the newest ``limit``)."""
    counts = store.execute(
        f"SELECT bucket_start, countMerge(count) FROM {store.table(schema.ROLLUPS[60])} "
        "WHERE kind = %(kind)s AND name = %(name)s AND bucket_start >= %(since)s "
        "GROUP BY bucket_start ORDER BY bucket_start DESC",
        {"kind": kind, "name": name, "since": int(since_ns) // NS // 60 * 60},
    )
    seen = 0
    for bucket, count in counts:
        seen += int(count)
        if seen >= limit:
            return int(bucket) * NS
    return since_ns


def compile_where(expression: Any) -> str:
    """A SQLAlchemy condition on the SQL store's columns as ClickHouse SQL text: each column
    by its bare name, values inlined as literals."""

    def bare_column(element: Any, **_: Any) -> Any:
        return sa.column(element.name) if isinstance(element, sa.Column) else None

    options: dict[str, Any] = {}
    bare = visitors.replacement_traverse(
        cast(sa.ColumnElement[Any], expression), options, bare_column
    )
    return str(bare.compile(compile_kwargs={"literal_binds": True}))


def store_size(store: ClickHouseStore) -> dict[str, Any]:
    """Bytes on disk and rows of the store's tables (active parts; rollup rows before the
    server's merges count once per part)."""
    if store.target.cluster:  # the shards' local tables
        from lookout.store.clickhouse.cluster import sizes

        rows = sizes(store)
    else:
        rows = {
            str(table): (int(count), int(size))
            for table, count, size in store.execute(
                "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts "
                "WHERE database = %(db)s AND active GROUP BY table",
                {"db": store.database},
            )
        }
    tables = (schema.EVENTS, *schema.ROLLUPS.values())
    return {
        "backend": "clickhouse",
        "url": store.safe_url,
        "bytes": sum(size for _, size in rows.values()),
        "rows": {table: rows.get(table, (0, 0))[0] for table in tables},
        "settings_store": store.settings_url,
    }


def names_of_kind(store: ClickHouseStore, kind: str) -> list[str]:
    """Every name of one kind with hour rollups still kept, sorted."""
    return [
        str(name)
        for (name,) in store.execute(
            f"SELECT DISTINCT name FROM {store.table(schema.ROLLUPS[3600])} "
            "WHERE kind = %(kind)s ORDER BY name",
            {"kind": kind},
        )
    ]


def latest_of_kind(store: ClickHouseStore, kind: str) -> list[tuple[Any, ...]]:
    """The newest event of each name of one kind (the Jobs page's latest runs): rows of
    :data:`.schema.EVENT_COLUMNS`, read in the table's own (kind, name, start) order."""
    return [
        tuple(row)
        for row in store.execute(
            f"SELECT {', '.join(schema.EVENT_COLUMNS)} FROM {store.table(schema.EVENTS)} "
            "WHERE kind = %(kind)s ORDER BY name, start_ns DESC LIMIT 1 BY name",
            {"kind": kind},
        )
    ]
