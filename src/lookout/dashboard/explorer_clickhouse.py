"""The request explorer on a ClickHouse store: its filters as ClickHouse conditions.

The reads themselves (pages in windows planned from the hour rollups, events by id, the
streamed export) are in :mod:`lookout.store.clickhouse.explorer`; the answers are the SQL
store's (:mod:`lookout.dashboard.explorer` builds both from the same rows).
"""

from __future__ import annotations

from typing import Any

from lookout.dashboard.explorer_filters import Filters
from lookout.store.clickhouse.explorer import Where

NS = 1_000_000_000


def where(filters: Filters) -> Where:
    """The explorer's filters as a selection of ClickHouse raw events."""
    conditions: list[str] = []
    params: dict[str, Any] = {}

    def equal(column: str, value: Any) -> None:
        if value is not None:
            conditions.append(f"{column} = %(f_{column})s")
            params[f"f_{column}"] = value

    equal("kind", filters.kind)
    equal("name", filters.name)
    equal("group_key", filters.user)
    equal("request_id", filters.request_id)
    equal("app_version", filters.version)
    equal("host", filters.host)
    if filters.status_class is not None:
        low = int(filters.status_class[0]) * 100
        conditions.append(f"status >= {low} AND status <= {low + 99}")
    if filters.outcome is not None:
        conditions.append(f"is_error = {1 if filters.outcome == 'error' else 0}")
    if filters.min_ms is not None:
        conditions.append(f"duration_ns >= {int(filters.min_ms * 1e6)}")
    if filters.max_ms is not None:
        conditions.append(f"duration_ns <= {int(filters.max_ms * 1e6)}")
    from_ns = None if filters.from_s is None else filters.from_s * NS
    to_ns = None if filters.to_s is None else filters.to_s * NS
    if from_ns is not None:
        conditions.append(f"start_ns >= {from_ns}")
    if to_ns is not None:
        conditions.append(f"start_ns < {to_ns}")
    if filters.text:
        params["f_text"] = filters.text
        conditions.append(
            "position(ifNull(fields, ''), %(f_text)s) > 0 "
            "OR position(ifNull(error_message, ''), %(f_text)s) > 0"
        )
    return Where(
        conditions,
        params,
        kinds=() if filters.kind is None else (filters.kind,),
        names=() if filters.name is None else (filters.name,),
        from_ns=from_ns,
        to_ns=to_ns,
    )
