"""Call trees from the sampling profiler's per-request profiles, per request and per endpoint.

Each profiled request event carries ``fields["profile"] = [[folded stack, ms, samples], ...]``
where a folded stack is ``file:function:line;...`` from the view's own frame down (profiles
recorded before lines were kept have ``file:function`` frames and no sample counts; both
read). Merging them gives, for every function on any path, the time spent in it and below it
(total) and in it alone (self), the samples that saw it, and the time per line it was at, the
way Flask-MonitoringDashboard's line profiler shows a view's lines.

Nodes are keyed by file and function, not line, so that one call of a function shows as one
frame however many lines of it the samples caught; the lines are that node's breakdown.
Durations come only from positive sample times, so no total or self time is ever negative.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, select

from lookout.store.engine import SqlStore
from lookout.store.schema import events, names, sources

NS = 1_000_000_000
#: Profiled requests merged into one tree at most (newest first), and by default.
MAX_REQUESTS = 1000
DEFAULT_REQUESTS = 200
#: The API folds frames under this share of all sampled time (a pixel of a 1,000-pixel graph).
MIN_SHARE = 0.001


@dataclass
class CallNode:
    """One function in a call tree; times in milliseconds."""

    frame: str
    total_ms: float = 0.0
    self_ms: float = 0.0
    samples: int = 0
    #: line -> milliseconds the function spent at it (its callees included)
    lines: dict[int, float] = field(default_factory=dict)
    #: line -> its code, where the profile recorded it
    code: dict[int, str] = field(default_factory=dict)
    children: dict[str, CallNode] = field(default_factory=dict)

    def child(self, frame: str) -> CallNode:
        node = self.children.get(frame)
        if node is None:
            node = self.children[frame] = CallNode(frame)
        return node

    def to_dict(self, min_ms: float = 0.0) -> dict[str, object]:
        """The node as the API answers it: file, function and lines split out, children
        busiest first. Children under ``min_ms`` are folded into one
        :data:`SMALLER_FRAMES` node each parent (a frame narrower than a pixel cannot be
        drawn, and a tree of every path can hold hundreds of thousands of them), so that
        ``total_ms`` still is ``self_ms`` plus the children's."""
        ordered = sorted(self.children.values(), key=lambda node: -node.total_ms)
        kept = [node for node in ordered if node.total_ms >= min_ms]
        children = [node.to_dict(min_ms) for node in kept]
        folded = ordered[len(kept) :]
        if folded:
            rest = CallNode(f"({len(folded)} smaller frames)")
            rest.total_ms = rest.self_ms = sum(node.total_ms for node in folded)
            rest.samples = sum(node.samples for node in folded)
            children.append(rest.to_dict())
        file, function = split_frame(self.frame)
        return {
            "frame": self.frame,
            "file": file,
            "function": function,
            "lines": [
                {"line": line, "ms": round(ms, 3), "code": self.code.get(line)}
                for line, ms in sorted(self.lines.items(), key=lambda item: -item[1])
            ],
            "total_ms": round(self.total_ms, 3),
            "self_ms": round(self.self_ms, 3),
            "samples": self.samples,
            "children": children,
        }


def split_frame(frame: str) -> tuple[str | None, str]:
    """``file:function`` -> (file, function); a frame of Lookout's own such as
    ``(outside the view)`` has no file."""
    file, colon, function = frame.rpartition(":")
    if not colon or not file:
        return None, frame
    return file, function


def parse_frame(frame: str) -> tuple[str, int | None]:
    """``file:function:line`` -> (``file:function``, line); older ``file:function`` frames
    have no line."""
    head, colon, tail = frame.rpartition(":")
    if colon and tail.isdigit() and ":" in head:
        return head, int(tail)
    return frame, None


def _entries(profile: object) -> Iterable[tuple[str, float, int]]:
    """A stored profile's (path, ms, samples), skipping what is not a positive duration."""
    if not isinstance(profile, list):
        return
    for entry in profile:
        if not isinstance(entry, list) or len(entry) < 2 or not isinstance(entry[0], str):
            continue
        spent = entry[1]
        if isinstance(spent, bool) or not isinstance(spent, (int, float)):
            continue
        if not math.isfinite(spent) or spent <= 0:
            continue  # profiles recorded before the sampler's fix had negative ones
        count = entry[2] if len(entry) > 2 else 1
        samples = count if isinstance(count, int) and not isinstance(count, bool) else 1
        yield entry[0], float(spent), max(samples, 0)


def sources_of(fields: dict[str, Any]) -> dict[str, str]:
    """A profile's ``file:line`` -> code (``fields["profile_source"]``), as recorded."""
    found = fields.get("profile_source")
    if not isinstance(found, list):
        return {}
    return {
        pair[0]: pair[1]
        for pair in found
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
    }


#: frame -> (file:function, line, file): parsed once per process (a bounded memo)
_PARSED: dict[str, tuple[str, int | None, str | None]] = {}


def _parsed(frame: str) -> tuple[str, int | None, str | None]:
    found = _PARSED.get(frame)
    if found is None:
        key, line = parse_frame(frame)
        found = (key, line, split_frame(key)[0])
        if len(_PARSED) < 100_000:
            _PARSED[frame] = found
    return found


def add_profile(root: CallNode, profile: object, sources: dict[str, str] | None = None) -> None:
    """Merge one request's folded stacks into ``root`` (with the code of their lines, from
    :func:`sources_of`)."""
    for path, spent, samples in _entries(profile):
        root.total_ms += spent
        root.samples += samples
        node = root
        for frame in path.split(";"):
            key, line, file = _parsed(frame)
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = CallNode(key)
            node = child
            node.total_ms += spent
            node.samples += samples
            if line is not None:
                lines = node.lines
                lines[line] = lines.get(line, 0.0) + spent
                if sources and line not in node.code:
                    code = sources.get(f"{file}:{line}")
                    if code:
                        node.code[line] = code
        node.self_ms += spent


def profile_tree(name: str, fields: dict[str, Any]) -> CallNode:
    """One request's call tree from its event's fields (its root named after its endpoint)."""
    root = CallNode(name)
    add_profile(root, fields.get("profile"), sources_of(fields))
    return root


@dataclass
class Profiled:
    """An endpoint's profiled requests merged: the tree, and what the requests took."""

    root: CallNode
    requests: int
    #: wall-clock time of the requests, and their threads' CPU time (of those that have it)
    wall_ms: float = 0.0
    cpu_ms: float | None = None
    #: the newest ``limit`` requests only: older ones in the window are not in the tree
    truncated: bool = False


def profiled(
    store: SqlStore,
    endpoint: str,
    *,
    since_s: float = 3600.0,
    now_ns: int | None = None,
    limit: int = MAX_REQUESTS,
    version: str | None = None,
) -> Profiled:
    """The merged call tree of an endpoint's profiled requests in the window (the newest
    ``limit`` of them, of one app ``version`` if given), read through the
    ``(name_id, start_ns)`` index (ClickHouse: its ``(kind, name, start_ns)`` order)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    since_ns = now_ns - int(since_s * NS)
    has_profile: ColumnElement[bool] = events.c.fields.like('%"profile":%')
    if version is not None:
        has_profile = and_(has_profile, sources.c.app_version == version)
    if store.backend == "clickhouse":
        from lookout.store.clickhouse.queries import raw

        rows: Iterable[Any] = raw(
            store,  # type: ignore[arg-type]
            "request",
            endpoint,
            ["duration_ns", "fields"],
            since_ns=since_ns,
            where=has_profile,
            limit=limit,
        )
        return _merge_profiles(endpoint, rows, limit)
    query = (
        select(events.c.duration_ns, events.c.fields)
        .join(names, names.c.id == events.c.name_id)
        .join(sources, sources.c.id == events.c.source_id)
        .where(
            names.c.kind == "request",
            names.c.name == endpoint,
            events.c.start_ns >= since_ns,
            has_profile,
        )
        .order_by(events.c.start_ns.desc())
        .limit(limit)
    )
    with store.read_engine.connect() as connection:
        return _merge_profiles(endpoint, connection.execute(query), limit)


def _merge_profiles(endpoint: str, rows: Iterable[Any], limit: int) -> Profiled:
    """Merge each (duration_ns, fields) row's profile into one tree."""
    found = Profiled(CallNode(endpoint), 0)
    count = 0
    for duration_ns, text in rows:
        count += 1
        fields = json.loads(text)
        profile = fields.get("profile")
        if not isinstance(profile, list):
            continue
        add_profile(found.root, profile, sources_of(fields))
        found.requests += 1
        found.wall_ms += duration_ns / 1e6
        cpu = fields.get("profile_cpu_ms")
        if isinstance(cpu, (int, float)) and not isinstance(cpu, bool) and cpu >= 0:
            found.cpu_ms = (found.cpu_ms or 0.0) + cpu
    found.truncated = count >= limit
    return found


def call_tree(
    store: SqlStore,
    endpoint: str,
    *,
    since_s: float = 3600.0,
    now_ns: int | None = None,
    limit: int = MAX_REQUESTS,
) -> tuple[CallNode, int]:
    """The merged call tree of an endpoint's profiled requests in the window.

    Returns:
        The root (its ``total_ms`` is all sampled time) and the number of profiled requests.
    """
    found = profiled(store, endpoint, since_s=since_s, now_ns=now_ns, limit=limit)
    return found.root, found.requests
