"""A comparison as text: a table for terminals and CI logs, Markdown for a pull-request
comment, JSON for scripts. Only tests that changed (or appeared, or went) are listed; the
unchanged are counted in the summary line."""

from __future__ import annotations

import json
from collections.abc import Sequence

from lookout.testruns.compare import TestChange

LISTED = ("slower", "faster", "new", "gone")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def _change(change: float | None) -> str:
    return "-" if change is None else f"{change:+.1%}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if value >= 0.001 else "<0.001"


def rows(changes: Sequence[TestChange]) -> list[tuple[str, ...]]:
    return [
        (
            c.verdict,
            c.name,
            _ms(c.base_ms),
            _ms(c.head_ms),
            _change(c.change),
            _p(c.p_value),
            f"{c.base_n}/{c.head_n}",
        )
        for c in changes
        if c.verdict in LISTED
    ]


HEADER = ("", "test", "base ms", "head ms", "change", "p", "n")


def table_lines(changes: Sequence[TestChange]) -> list[str]:
    """Plain aligned columns (no colour, no box drawing: CI logs keep it readable)."""
    body = rows(changes)
    if not body:
        return []
    widths = [max(len(row[i]) for row in (HEADER, *body)) for i in range(len(HEADER))]
    numeric = {2, 3, 4, 5, 6}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    return [line(HEADER), *(line(row) for row in body)]


def markdown(changes: Sequence[TestChange], base_label: str, head_label: str, summary: str) -> str:
    """A pull-request comment: a heading, the summary, and the changed tests."""
    lines = [f"### Test durations: {head_label} against {base_label}", "", summary or "no tests"]
    body = rows(changes)
    if body:
        lines += [
            "",
            "| | test | base ms | head ms | change | p | n |",
            "|---|---|--:|--:|--:|--:|--:|",
        ]
        for verdict, name, *rest in body:
            mark = {"slower": "🔴 slower", "faster": "🟢 faster"}.get(verdict, verdict)
            safe = name.replace("|", "\\|")
            lines.append(f"| {mark} | `{safe}` | " + " | ".join(rest) + " |")
    return "\n".join(lines) + "\n"


def as_json(
    changes: Sequence[TestChange],
    base_label: str,
    head_label: str,
    regressions: Sequence[TestChange],
    threshold: float | None,
) -> str:
    return json.dumps(
        {
            "base": base_label,
            "head": head_label,
            "threshold": threshold,
            "regressions": [c.name for c in regressions],
            "tests": [c.as_dict() for c in changes],
        },
        indent=2,
    )
