"""What the request explorer filters on, shared by its SQL reads
(:mod:`lookout.dashboard.explorer`) and its ClickHouse conditions
(:mod:`lookout.dashboard.explorer_clickhouse`), which must not import each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Filters:
    """What the explorer keeps; None is "any"."""

    kind: str | None = None
    name: str | None = None
    status_class: str | None = None
    outcome: str | None = None
    user: str | None = None
    version: str | None = None
    host: str | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    request_id: str | None = None
    from_s: int | None = None
    to_s: int | None = None
    text: str | None = None
