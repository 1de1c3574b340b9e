"""Terminal output shared by the CLI commands: the per-name table and human durations."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from lookout.store.queries import NameSummary


def format_ms(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 1:
        return f"{value:.1f} ms"
    return f"{value * 1000:.0f} µs"


def format_ago(timestamp_ns: int, now_ns: int | None = None) -> str:
    seconds = max(0.0, ((now_ns or time.time_ns()) - timestamp_ns) / 1e9)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f}h ago"
    return f"{seconds / 86400:.0f}d ago"


#: Kinds whose durations mean something; metric and message events are instantaneous.
TIMED_KINDS = ("request", "call", "run")


def summary_table(summaries: Sequence[NameSummary], title: str) -> Table:
    """Calls, errors and latency percentiles per name (timed kinds only)."""
    summaries = [summary for summary in summaries if summary.kind in TIMED_KINDS]
    # Names and titles are the user's text: as Text, brackets in them are never markup.
    table = Table(title=Text(title), title_justify="left", header_style="bold")
    table.add_column("kind")
    table.add_column("name", overflow="fold")
    for column in ("calls", "errors", "p50", "p95", "p99", "max", "last call"):
        table.add_column(column, justify="right", no_wrap=True)
    now_ns = time.time_ns()
    for summary in summaries:
        errors = (
            f"[red]{summary.errors} ({summary.error_rate:.0%})[/red]" if summary.errors else "0"
        )
        table.add_row(
            summary.kind,
            Text(summary.name),
            f"{summary.count:,}",
            errors,
            format_ms(summary.p50_ms),
            format_ms(summary.p95_ms),
            format_ms(summary.p99_ms),
            format_ms(summary.max_ms),
            format_ago(summary.last_ns, now_ns),
        )
    return table
