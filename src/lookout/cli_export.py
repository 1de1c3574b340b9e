"""``lookout export``: stored events of a time range, names and kinds, as CSV or JSON lines.

    lookout export --since 24h --kind request -o requests.csv
    lookout export --from 2026-12-01 --to 2026-12-02 --name shop.payments.charge --format jsonl

Streamed from the store a window of ids (on ClickHouse, of hours) at a time (the dashboard
explorer's export, in :mod:`lookout.store.export`), so memory stays bounded whatever the
number of events; a progress bar on stderr follows the walk.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import IO

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from lookout.cli_common import duration_option, err_console, open_store
from lookout.config import ConfigError, resolve_store_url
from lookout.events import EVENT_KINDS
from lookout.store import export as event_export

NS = 1_000_000_000
FORMATS = ("csv", "jsonl")


def parse_time(value: str, option: str) -> int:
    """Nanoseconds since the epoch from ``2026-12-01``, ``2026-12-01T10:00[:00][+01:00|Z]``
    (UTC unless a zone is given) or a number of seconds since the epoch."""
    text = value.strip()
    try:
        return int(float(text) * NS)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ConfigError(
            f"{option} {value!r}: expected a date (2026-12-01), a date and time "
            "(2026-12-01T10:00, UTC unless a zone is given) or seconds since the epoch"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


def _time_range(
    since: float | None, start: str | None, end: str | None
) -> tuple[int | None, int | None]:
    if since is not None and start is not None:
        raise ConfigError("give --since or --from, not both")
    from_ns = parse_time(start, "--from") if start is not None else None
    to_ns = parse_time(end, "--to") if end is not None else None
    if since is not None:
        from_ns = (to_ns if to_ns is not None else time.time_ns()) - int(since * NS)
    if from_ns is not None and to_ns is not None and from_ns >= to_ns:
        raise ConfigError("--from must be before --to")
    return from_ns, to_ns


@click.command()
@click.option("--store", "store_url", default=None, help="Store URL (default: the configured one).")
@click.option(
    "--since", default=None, callback=duration_option, help="Only the last ..., e.g. 24h, 7d."
)
@click.option(
    "--from", "start", default=None, help="From this time: 2026-12-01[T10:00], UTC, or epoch s."
)
@click.option("--to", "end", default=None, help="Up to (not including) this time.")
@click.option("--name", "names", multiple=True, help="Only this name (repeatable).")
@click.option(
    "--kind", "kinds", multiple=True, type=click.Choice(EVENT_KINDS), help="Only this kind."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="csv or jsonl (default: from the output's suffix, else csv).",
)
@click.option("-o", "--output", default="-", show_default=True, help="File to write; - is stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
def export(
    store_url: str | None,
    since: float | None,
    start: str | None,
    end: str | None,
    names: tuple[str, ...],
    kinds: tuple[str, ...],
    output_format: str | None,
    output: str,
    no_progress: bool,
) -> None:
    """Write stored events (a time range, names, kinds) as CSV or JSON lines, oldest first."""
    from_ns, to_ns = _time_range(since, start, end)
    chosen = output_format or ("jsonl" if output.endswith((".jsonl", ".json")) else "csv")
    store = open_store(resolve_store_url(store_url))
    conditions = event_export.selection(kinds, names, from_ns, to_ns)
    progress = Progress(
        TextColumn("exporting"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} events"),
        TimeRemainingColumn(),
        console=err_console,
        disable=no_progress,
        transient=True,
    )
    task = progress.add_task("export", total=None, rows=0)
    written = [0]

    def advance(walked: int, total: int, rows: int) -> None:
        written[0] = rows
        progress.update(task, completed=walked, total=total, rows=rows)

    target: IO[str] = (
        sys.stdout if output == "-" else open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
    )
    chunks = event_export.stream(
        store,
        conditions,
        from_ns=from_ns,
        to_ns=to_ns,
        as_csv=chosen == "csv",
        progress=advance,
        clickhouse=event_export.clickhouse_selection(kinds, names, from_ns, to_ns),
    )
    try:
        with progress:
            for chunk in chunks:
                target.write(chunk)
    finally:
        if target is not sys.stdout:
            target.close()
        store.close()
    where = "stdout" if output == "-" else output
    err_console.print(f"{written[0]:,} events written to {where} ({chosen})", markup=False)
