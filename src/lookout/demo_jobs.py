"""The shop's scheduled jobs for ``lookout demo --dataset 7d`` (:mod:`lookout.demo_data`), as
``lookout.supervise`` records them: an hourly price sync, and a nightly export that timed out
once, two days ago (a failed run with its exit code and traceback)."""

from __future__ import annotations

import random
from collections.abc import Iterator

from lookout.demo_failures import traceback_text
from lookout.events import Event

NS = 1_000_000_000
HOUR = 3600
DAY = 86400


def jobs(hour_start: int, rng: random.Random, now_s: int, version: str) -> Iterator[Event]:
    """The runs that start in the hour from ``hour_start``: the sync every hour, the export
    at 03:00 UTC (failed two days before ``now_s``)."""
    duration_ns = int(rng.uniform(8, 30) * NS)  # before the summary: a seed gives the same week
    summary = f"{rng.randint(20, 400)} prices updated"
    yield _run(
        "shop.hourly-sync",
        (hour_start + 5 * 60) * NS,
        duration_ns,
        4000,
        version,
        {"schedule": "5 * * * *", "summary": summary},
    )
    if hour_start % DAY != 3 * HOUR:
        return
    start_ns = (hour_start + 60) * NS
    if hour_start // DAY == (now_s - 2 * DAY) // DAY:
        message = "connection to warehouse.internal:5432 timed out"
        frames = [
            ("/srv/shop/jobs/export.py", 19, "main", "rows = fetch_orders(since)"),
            ("/srv/shop/jobs/export.py", 44, "fetch_orders", "with warehouse.connect() as db:"),
        ]
        failure = (
            "builtins.TimeoutError",
            message,
            traceback_text(frames, f"TimeoutError: {message}"),
        )
        yield _run(
            "shop.nightly-export",
            start_ns,
            310 * NS,
            4001,
            version,
            {"schedule": "0 3 * * *"},
            failure,
        )
    else:
        rows = rng.randint(9000, 14000)
        yield _run(
            "shop.nightly-export",
            start_ns,
            int(rng.uniform(140, 220) * NS),
            4001,
            version,
            {"schedule": "0 3 * * *", "summary": f"{rows:,} orders exported"},
        )


def _run(
    name: str,
    start_ns: int,
    duration_ns: int,
    pid: int,
    version: str,
    fields: dict[str, str],
    failure: tuple[str, str, str] | None = None,
) -> Event:
    """A run on the worker host: exit code 0, or 1 with its error type, message, traceback."""
    return Event(
        "run",
        name,
        start_ns,
        duration_ns,
        "error" if failure else "ok",
        1 if failure else 0,
        "worker-1",
        pid,
        version,
        None,
        None,
        None,
        {},
        fields,
        *(failure or (None, None, None)),
    )
