"""What a prune deleted (or, in a dry run, would delete): shared by the SQL store's retention
and ClickHouse's, which each return it, so neither imports the other's module for it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PruneResult:
    events: int
    minute_rollups: int
    hour_rollups: int
