"""The ClickHouse store's schema and read queries on chdb (a current ClickHouse engine inside
a Python process), run as its own process so that the embedded engine and its threads never
live in the test runner:

    python -m tests.store.chdb_check EVENTS.json RESULT.json START_S

EVENTS.json holds the ``lookout_events`` rows (dicts by column); RESULT.json gets the engine's
version and each query's answer, for the test to compare with the 18.16 server's.
"""

from __future__ import annotations

import json
import sys
import tempfile
from typing import Any, ClassVar

from chdb import session as chdb_session
from clickhouse_driver.util.escape import escape_params

from lookout.store.clickhouse import errors, queries, rollup_reads, schema


class _Context:
    """clickhouse-driver's escaping asks its context for the server's timezone only for
    datetimes, which these queries never pass."""

    server_info = None
    client_settings: ClassVar[dict[str, Any]] = {"strings_as_bytes": False}
    settings: ClassVar[dict[str, Any]] = {}


class ChdbStore:
    """What the query functions use of a ClickHouseStore (``table``, ``execute``), on chdb."""

    database = "lookout"

    def __init__(self, path: str) -> None:
        self.session = chdb_session.Session(path)

    def table(self, name: str) -> str:
        return f"{self.database}.{name}"

    def execute(self, sql: str, params: dict[str, Any] | None = None, **_: Any) -> list[Any]:
        if params:
            sql = sql % escape_params(params, _Context())
        if not sql.lstrip().upper().startswith("SELECT"):
            self.session.query(sql)
            return []
        result = self.session.query(
            sql + " SETTINGS output_format_json_quote_64bit_integers = 0", "JSONCompact"
        )
        return [tuple(row) for row in json.loads(result.bytes())["data"]]


def _rollups(rows: list[tuple[str, str, int, Any]]) -> list[Any]:
    return [
        [
            kind,
            name,
            bucket,
            d.count,
            d.errors,
            d.total_ns,
            d.sumsq_ms2,
            d.min_ns,
            d.max_ns,
            d.last_ns,
            sorted(d.sketch.buckets.items()),
        ]
        for kind, name, bucket, d in rows
    ]


def dashboard_reads(store: Any, start_s: int) -> dict[str, Any]:
    """The dashboard's reads (rollup_reads): per version (origin rollups, their merged states),
    per hour bucket of every name (sketch rows), the first bucket, the origins."""
    by_version = rollup_reads.Select(
        stored=3600, start_s=start_s, end_s=2**32 - 1, kinds=("request",), by=("app_version",)
    )
    per_hour = rollup_reads.Select(
        stored=60,
        start_s=start_s,
        end_s=2**32 - 1,
        kinds=("request",),
        by_name=False,
        bucket_s=3600,
    )
    filtered = rollup_reads.Select(
        stored=60, start_s=start_s, end_s=2**32 - 1, kinds=("request",), version="1.1"
    )
    return {
        "by_version": _keyed(rollup_reads.merged(store, by_version)),
        "per_hour": _keyed(rollup_reads.merged(store, per_hour)),
        "filtered": _keyed(rollup_reads.merged(store, filtered)),
        "first": rollup_reads.first_bucket(store, filtered),
        "origins": rollup_reads.origins(store),
    }


def _keyed(found: dict[tuple[Any, ...], Any]) -> list[Any]:
    return _rollups([(*_padded(key), delta) for key, delta in sorted(found.items())])


def _padded(key: tuple[Any, ...]) -> tuple[Any, Any, Any]:
    return (*key, "", "", "")[:3]  # type: ignore[return-value]


def error_reads(store: Any, start_s: int) -> dict[str, Any]:
    """The Errors page's reads (store/clickhouse/errors.py): counts in a range, the groups'
    merged states, buckets, sparklines and "where"."""
    every = errors.BucketFilter()
    counts = errors.range_counts(store, start_s, 2**32 - 1, every)
    states = store.execute(
        f"SELECT {errors._GROUP_STATES} FROM {store.table(schema.ERROR_GROUPS)} "
        "GROUP BY group_id ORDER BY group_id"
    )
    return {
        "counts": sorted(counts.items()),
        "states": [list(row) for row in states],
        "buckets": sorted(errors.buckets(store, counts, start_s, 2**32 - 1, every)),
        "sparks": [
            sorted(part)
            for part in errors.sparks_and_names(store, counts, start_s, 2**32 - 1, every, 7200)
        ],
    }


def run(events_path: str, result_path: str, start_s: int) -> None:
    store = ChdbStore(tempfile.mkdtemp(prefix="lookout-chdb-"))
    for _ in range(2):  # every statement may run again
        for statement in schema.statements(store.database):
            store.execute(statement)
    with open(events_path) as source:
        rows = json.load(source)
    lines = "\n".join(json.dumps(row) for row in rows)
    store.execute(f"INSERT INTO {store.table(schema.EVENTS)} FORMAT JSONEachRow {lines}")
    found: dict[str, Any] = {"version": store.execute("SELECT version()")[0][0]}
    for bucket_s in (60, 3600):
        for per_bucket in (False, True):
            found[f"rollups-{bucket_s}-{per_bucket}"] = _rollups(
                queries.merged_rollups(
                    store,  # type: ignore[arg-type]
                    bucket_s=bucket_s,
                    start_s=start_s,
                    kinds=("request",),
                    per_bucket=per_bucket,
                )
            )
    found.update(dashboard_reads(store, start_s))
    found["errors"] = error_reads(store, start_s)
    found["hours"] = sorted(queries.hour_counts(store, ("request",), start_s))  # type: ignore[arg-type]
    found["names"] = queries.names_of_kind(store, "request")  # type: ignore[arg-type]
    found["latest"] = queries.latest_of_kind(store, "request")  # type: ignore[arg-type]
    with open(result_path, "w") as target:
        json.dump(found, target)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
