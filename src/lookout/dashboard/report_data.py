"""What the Distributions and Reports pages show, read from the rollups only.

Every answer here merges rollup rows (one per name and hour, or minute for short windows):
latency distributions are the merged sketches' quantiles, a comparison of two periods is a
rank test of two merged sketches (:mod:`lookout.dashboard.report_stats`), utilization is the
rows' counts by day and hour of day. Nothing scans raw events, so the cost follows the number
of names and hours, not of requests.

Versions are listed in one order everywhere: :func:`versions_in_order` (first seen first).
Every page's API that lists versions should call it, so that 1.2 never comes before 1.1 on
one page and after it on another.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lookout.dashboard.report_stats import holm, mann_whitney, two_proportions
from lookout.store import schema
from lookout.store.clickhouse import rollup_reads
from lookout.store.delta_reads import rollup_source
from lookout.store.engine import SqlStore
from lookout.store.origin_queries import origin_rollups, versions
from lookout.store.rollups import RollupDelta
from lookout.testruns import TEST_PREFIX

NS = 1_000_000_000
HOUR = 3600
DAY = 86400
#: Windows at least this long read hour rollups (whole hours); shorter ones minute rollups.
HOUR_ROLLUPS_FROM_S = 6 * HOUR
#: A latency change is shown when its Holm-adjusted p-value is below ALPHA and its effect
#: (Cliff's delta) is at least MIN_DELTA: 0.147 is the conventional edge of a "small" effect
#: (Romano et al., 2006). With millions of requests a 1 % shift is "significant" but nobody's
#: problem; the effect bound keeps only changes someone would notice.
ALPHA = 0.01
MIN_DELTA = 0.147
#: An error-rate change is shown when significant at ALPHA and at least this large (absolute).
MIN_RATE_CHANGE = 0.005
KINDS = ("request", "call")


def versions_in_order(store: SqlStore) -> list[str]:
    """Every application version the store has seen, first seen first ('' when unset).

    The order is that of the processes' first writes (``lookout_sources`` ids grow as new
    processes write), which is the order of deploys. Pages and APIs that list versions use
    this function so that they all agree.
    """
    if store.backend == "clickhouse":  # no sources table: the origins' first events
        return versions(store)
    sources = schema.sources
    query = (
        sa.select(sources.c.app_version, sa.func.min(sources.c.id).label("first"))
        .group_by(sources.c.app_version)
        .order_by("first")
    )
    with store.read_engine.connect() as connection:
        return [str(version) for version, _ in connection.execute(query)]


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window ``[start_s, end_s)`` in epoch seconds, with a label."""

    start_s: int
    end_s: int
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start_s, "to": self.end_s, "label": self.label}


def _table_and_bounds(window: Window) -> tuple[sa.Table, int, int]:
    if window.end_s - window.start_s >= HOUR_ROLLUPS_FROM_S:
        start = window.start_s // HOUR * HOUR
        return schema.rollups_hour, start, -(-window.end_s // HOUR) * HOUR
    return schema.rollups_minute, window.start_s // 60 * 60, -(-window.end_s // 60) * 60


def merged(
    store: SqlStore, window: Window, kinds: Iterable[str] = KINDS
) -> dict[tuple[str, str], RollupDelta]:
    """Each (kind, name)'s rollups over ``window``, merged (tests of the pytest plugin left
    out: they have the Tests page)."""
    table, start, end = _table_and_bounds(window)
    if store.backend == "clickhouse":
        select = rollup_reads.Select(
            stored=HOUR if table is schema.rollups_hour else 60,
            start_s=start,
            end_s=end,
            kinds=tuple(kinds),
        )
        return {
            (kind, name): delta
            for (kind, name), delta in rollup_reads.merged(store, select).items()  # type: ignore[arg-type]
            if not (kind == "call" and name.startswith(TEST_PREFIX))
        }
    names, table = schema.names, rollup_source(store, table)  # type: ignore[assignment]
    query = (
        sa.select(table, names.c.kind, names.c.name)
        .join(names, names.c.id == table.c.name_id)
        .where(
            table.c.bucket_start >= start,
            table.c.bucket_start < end,
            names.c.kind.in_(tuple(kinds)),
        )
    )
    found: dict[tuple[str, str], RollupDelta] = {}
    with store.read_engine.connect() as connection:
        for row in connection.execute(query):
            if row.kind == "call" and row.name.startswith(TEST_PREFIX):
                continue
            delta = RollupDelta.from_row(row)
            key = (row.kind, row.name)
            if key in found:
                found[key].merge(delta)
            else:
                found[key] = delta
    return found


def _ms(delta: RollupDelta, q: float) -> float | None:
    value = delta.sketch.quantile(q)
    return None if value is None else round(value / 1e6, 3)


# -- distributions -------------------------------------------------------------------------------
#: The box drawn per name: whiskers at p5 and p95, the box from p25 to p75.
BOX_QUANTILES = {"p5_ms": 0.05, "p25_ms": 0.25, "p50_ms": 0.5, "p75_ms": 0.75, "p95_ms": 0.95}


def box(delta: RollupDelta) -> dict[str, Any]:
    """A box plot's numbers from a merged sketch (within the sketch's 1 %)."""
    return {
        "count": delta.count,
        "errors": delta.errors,
        "mean_ms": round(delta.total_ns / delta.count / 1e6, 3) if delta.count else None,
        **{key: _ms(delta, q) for key, q in BOX_QUANTILES.items()},
        "p99_ms": _ms(delta, 0.99),
        "max_ms": None if delta.max_ns is None else round(delta.max_ns / 1e6, 3),
    }


def distributions(
    store: SqlStore, window: Window, kinds: Iterable[str] = KINDS
) -> list[dict[str, Any]]:
    """One box per (kind, name) over ``window``, slowest median first."""
    rows = [
        {"kind": kind, "name": name, **box(delta)}
        for (kind, name), delta in merged(store, window, kinds).items()
        if delta.count
    ]
    rows.sort(key=lambda r: (-(r["p50_ms"] or 0), r["kind"], r["name"]))
    return rows


def version_distributions(
    store: SqlStore, window: Window, kinds: Iterable[str] = KINDS
) -> dict[str, Any]:
    """One box per (kind, name, version) over ``window`` from the origin rollups, for the
    per-version chart: versions first seen first, as on every page."""
    found = origin_rollups(
        store, start_s=window.start_s, end_s=window.end_s, kinds=tuple(kinds), group_by="version"
    )
    rows = [
        {"kind": r.kind, "name": r.name, "version": r.version or "", **box(r.delta)}
        for r in found
        if r.delta.count and not (r.kind == "call" and r.name.startswith(TEST_PREFIX))
    ]
    seen = {row["version"] for row in rows}
    return {"versions": [v for v in versions_in_order(store) if v in seen], "rows": rows}


# -- comparisons ---------------------------------------------------------------------------------
def _change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return round(after / before - 1, 4)


def compare(
    base: dict[tuple[str, str], RollupDelta],
    current: dict[tuple[str, str], RollupDelta],
) -> dict[str, Any]:
    """The significant latency and error-rate changes from ``base`` to ``current``, per
    (kind, name) seen on both sides, largest effect first; every name's test in ``all``.

    Latency: the Mann-Whitney U test of the two merged sketches, Holm-adjusted over the
    names compared, kept when p < ALPHA and |Cliff's delta| >= MIN_DELTA. Error rate: the
    two-proportion z-test, Holm-adjusted, kept when p < ALPHA and the rate moved by at least
    MIN_RATE_CHANGE.
    """
    keys = sorted(key for key in current if key in base and base[key].count and current[key].count)
    rank_tests = [mann_whitney(base[k].sketch.buckets, current[k].sketch.buckets) for k in keys]
    rate_tests = [
        two_proportions(base[k].errors, base[k].count, current[k].errors, current[k].count)
        for k in keys
    ]
    rank_p = holm([t.p for t in rank_tests])
    rate_p = holm([t.p for t in rate_tests])
    rows: list[dict[str, Any]] = []
    for index, (kind, name) in enumerate(keys):
        before, after = base[(kind, name)], current[(kind, name)]
        rank, rate = rank_tests[index], rate_tests[index]
        p50 = (_ms(before, 0.5), _ms(after, 0.5))
        p95 = (_ms(before, 0.95), _ms(after, 0.95))
        rows.append(
            {
                "kind": kind,
                "name": name,
                "count": [before.count, after.count],
                "p50_ms": list(p50),
                "p95_ms": list(p95),
                "p50_change": _change(*p50),
                "p95_change": _change(*p95),
                "delta": round(rank.delta, 4),
                "latency_p": rank_p[index],
                "latency_significant": rank_p[index] < ALPHA and abs(rank.delta) >= MIN_DELTA,
                "error_rate": [round(rate.rate_a, 5), round(rate.rate_b, 5)],
                "error_rate_change": round(rate.rate_b - rate.rate_a, 5),
                "error_p": rate_p[index],
                "error_significant": rate_p[index] < ALPHA
                and abs(rate.rate_b - rate.rate_a) >= MIN_RATE_CHANGE,
            }
        )
    latency = sorted(
        (r for r in rows if r["latency_significant"]), key=lambda r: (-abs(r["delta"]), r["name"])
    )
    errors = sorted(
        (r for r in rows if r["error_significant"]),
        key=lambda r: (-abs(r["error_rate_change"]), r["name"]),
    )
    return {
        "latency": latency,
        "errors": errors,
        "all": rows,
        "only_base": sorted(f"{k}:{n}" for k, n in set(base) - set(current)),
        "only_current": sorted(f"{k}:{n}" for k, n in set(current) - set(base)),
        "method": METHOD,
    }


METHOD = {
    "latency_test": "Mann-Whitney U, two-sided, normal approximation with tie and continuity "
    "corrections, on the merged rollup sketches (values in one 2 % bucket are ties)",
    "error_test": "two-proportion z-test (the 2x2 chi-square test), two-sided",
    "correction": "Holm, over the names compared",
    "alpha": ALPHA,
    "min_delta": MIN_DELTA,
    "min_rate_change": MIN_RATE_CHANGE,
    "effect": "Cliff's delta = P(current slower) - P(current faster), from -1 to 1",
}


def period_windows(mode: str, now_s: int | None = None) -> tuple[Window, Window]:
    """(base, current) for ``day`` (yesterday vs today so far) or ``week`` (last week vs this
    week so far, weeks starting on Monday, UTC)."""
    now_s = int(time.time()) if now_s is None else now_s
    today = now_s // DAY * DAY
    if mode == "day":
        return Window(today - DAY, today, "yesterday"), Window(today, now_s, "today")
    if mode == "week":
        monday = today - ((today // DAY + 3) % 7) * DAY  # 1970-01-01 was a Thursday
        return (
            Window(monday - 7 * DAY, monday, "last week"),
            Window(monday, now_s, "this week"),
        )
    raise ValueError(mode)


# -- utilization ---------------------------------------------------------------------------------
def utilization(store: SqlStore, window: Window, kinds: Iterable[str] = KINDS) -> dict[str, Any]:
    """Hits per (kind, name) per UTC day and per hour of day over ``window`` (hour rollups:
    counts only, no sketch is read)."""
    hour, names = rollup_source(store, schema.rollups_hour), schema.names
    start = window.start_s // HOUR * HOUR
    first_day = start // DAY * DAY
    days = [first_day + n * DAY for n in range((window.end_s - 1 - first_day) // DAY + 1)]
    query = (
        sa.select(names.c.kind, names.c.name, hour.c.bucket_start, hour.c.count)
        .join(names, names.c.id == hour.c.name_id)
        .where(
            hour.c.bucket_start >= start,
            hour.c.bucket_start < window.end_s,
            names.c.kind.in_(tuple(kinds)),
        )
    )
    daily: dict[tuple[str, str], list[int]] = {}
    hourly: dict[tuple[str, str], list[int]] = {}
    with store.read_engine.connect() as connection:
        rows: Iterable[Any] = (
            rollup_reads.hour_counts(store, kinds, start, window.end_s)  # type: ignore[arg-type]
            if store.backend == "clickhouse"
            else connection.execute(query)
        )
        for kind, name, bucket, count in rows:
            if kind == "call" and name.startswith(TEST_PREFIX):
                continue
            key = (kind, name)
            day_index = (int(bucket) - first_day) // DAY
            if key not in daily:
                daily[key], hourly[key] = [0] * len(days), [0] * 24
            if 0 <= day_index < len(days):
                daily[key][day_index] += int(count)
            hourly[key][int(bucket) % DAY // HOUR] += int(count)
    order = sorted(daily, key=lambda k: (-sum(daily[k]), k))
    return {
        "days": days,
        "series": [
            {"kind": k, "name": n, "daily": daily[(k, n)], "hourly": hourly[(k, n)]}
            for k, n in order
        ],
    }
