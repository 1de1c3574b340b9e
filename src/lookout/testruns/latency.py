"""Each endpoint's latency in the test runs beside its latency in production: what the Tests
page shows to tell a slowdown seen in CI from one users see (the production side from the
origin rollups, per version)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from lookout.store.engine import SqlStore
from lookout.store.origin_queries import origin_rollups
from lookout.store.schema import test_endpoints
from lookout.testruns.queries import NS_PER_MS, percentile, version_order, window_runs


def endpoint_latency(
    store: SqlStore,
    *,
    since_ns: int = 0,
    branch: str | None = None,
    production_since_s: int | None = None,
) -> list[dict[str, Any]]:
    """Each Flask endpoint hit in tests, per version: its requests' latency in the tests
    (every request of every test, pooled) beside the production latency of the requests of
    that name and version (the origin rollups since ``production_since_s``, default the
    window's start), so a slowdown seen in CI can be checked against what users see."""
    runs = window_runs(store, since_ns=since_ns, branch=branch)
    version_of = {run["id"]: run["version"] for run in runs}
    e = test_endpoints.c
    tested: dict[tuple[str, str], dict[str, Any]] = {}
    query = select(e.run_id, e.test, e.endpoint, e.method, e.durations).where(
        e.run_id.in_(list(version_of))
    )
    with store.read_engine.connect() as connection:
        for run_id, test, endpoint, method, durations in connection.execute(query):
            entry = tested.setdefault(
                (endpoint, version_of[run_id]), {"methods": set(), "tests": set(), "ns": []}
            )
            entry["methods"].add(method)
            entry["tests"].add(test)
            entry["ns"].extend(json.loads(durations))
    endpoints = sorted({endpoint for endpoint, _ in tested})
    start_s = production_since_s if production_since_s is not None else since_ns // 10**9
    production = {
        (rollup.name, rollup.version or ""): rollup.delta
        for rollup in origin_rollups(
            store,
            start_s=start_s,
            names_=[("request", endpoint) for endpoint in endpoints],
            group_by="version",
        )
    }
    order = version_order(runs)
    rows = []
    for endpoint in endpoints:
        versions = [v for v in order if (endpoint, v) in tested]
        for version in versions:
            entry = tested[(endpoint, version)]
            ordered = sorted(entry["ns"])
            prod = production.get((endpoint, version))
            p50 = prod.sketch.quantile(0.5) if prod is not None else None
            p95 = prod.sketch.quantile(0.95) if prod is not None else None
            rows.append(
                {
                    "endpoint": endpoint,
                    "methods": sorted(entry["methods"]),
                    "version": version,
                    "tests": len(entry["tests"]),
                    "test_requests": len(ordered),
                    "test_p50_ms": percentile(ordered, 0.5) / NS_PER_MS if ordered else None,
                    "test_p95_ms": percentile(ordered, 0.95) / NS_PER_MS if ordered else None,
                    "prod_requests": prod.count if prod is not None else 0,
                    "prod_p50_ms": None if p50 is None else p50 / NS_PER_MS,
                    "prod_p95_ms": None if p95 is None else p95 / NS_PER_MS,
                }
            )
    return rows
