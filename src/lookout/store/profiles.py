"""Per-endpoint call trees from the sampling profiler's per-request profiles.

Each profiled request event carries ``fields["profile"] = [[folded stack, ms], ...]``. Merging
them gives, for every frame on any path, the time spent in it and below it (inclusive) and in it
alone (self).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from lookout.store.engine import SqlStore
from lookout.store.schema import events, names

NS = 1_000_000_000


@dataclass
class CallNode:
    """One frame in the merged call tree; times in milliseconds."""

    frame: str
    total_ms: float = 0.0
    self_ms: float = 0.0
    children: dict[str, CallNode] = field(default_factory=dict)

    def child(self, frame: str) -> CallNode:
        node = self.children.get(frame)
        if node is None:
            node = self.children[frame] = CallNode(frame)
        return node

    def to_dict(self) -> dict[str, object]:
        ordered = sorted(self.children.values(), key=lambda node: -node.total_ms)
        return {
            "frame": self.frame,
            "total_ms": round(self.total_ms, 3),
            "self_ms": round(self.self_ms, 3),
            "children": [node.to_dict() for node in ordered],
        }


def add_profile(root: CallNode, profile: list[list[object]]) -> None:
    """Merge one request's folded stacks into ``root``."""
    for path, milliseconds in profile:
        spent = float(milliseconds)  # type: ignore[arg-type]
        root.total_ms += spent
        node = root
        for frame in str(path).split(";"):
            node = node.child(frame)
            node.total_ms += spent
        node.self_ms += spent


def call_tree(
    store: SqlStore,
    endpoint: str,
    *,
    since_s: float = 3600.0,
    now_ns: int | None = None,
    limit: int = 1000,
) -> tuple[CallNode, int]:
    """The merged call tree of an endpoint's profiled requests in the window.

    Returns:
        The root (its ``total_ms`` is all sampled time) and the number of profiled requests.
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    root = CallNode(endpoint)
    if store.backend == "clickhouse":
        from lookout.store.clickhouse.queries import raw

        texts: Iterable[Any] = raw(
            store,  # type: ignore[arg-type]
            "request",
            endpoint,
            ["fields"],
            since_ns=now_ns - int(since_s * NS),
            where=events.c.fields.like('%"profile":%'),
            limit=limit,
        )
        return _merge_profiles(root, texts)
    query = (
        select(events.c.fields)
        .join(names, names.c.id == events.c.name_id)
        .where(
            names.c.kind == "request",
            names.c.name == endpoint,
            events.c.start_ns >= now_ns - int(since_s * NS),
            events.c.fields.like('%"profile":%'),
        )
        .order_by(events.c.start_ns.desc())
        .limit(limit)
    )
    with store.read_engine.connect() as connection:
        return _merge_profiles(root, connection.execute(query))


def _merge_profiles(root: CallNode, rows: Iterable[Any]) -> tuple[CallNode, int]:
    """Merge each row's ``fields`` profile into ``root``; the root and how many had one."""
    requests = 0
    for (text,) in rows:
        profile = json.loads(text).get("profile")
        if isinstance(profile, list):
            add_profile(root, profile)
            requests += 1
    return root, requests
