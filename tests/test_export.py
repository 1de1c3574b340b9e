"""``lookout export``: the real command over real stores, its output parsed, rows exact."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from lookout import make_event
from lookout.events import Event
from lookout.sinks.sql import SqlSink
from lookout.store import export as event_export
from lookout.store.engine import SqlStore

NS = 1_000_000_000
#: Yesterday 00:00 UTC (inside the store's retention), so --from/--to select known rows.
DAY0 = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
DAY0 -= dt.timedelta(days=1)
T0 = int(DAY0.timestamp()) * NS
KINDS = ("call", "request", "run")


def lookout_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )


def _events() -> list[Event]:
    """300 events, one a minute from T0: kinds and names in turn, every seventh an error."""
    made = []
    for n in range(300):
        kind = KINDS[n % 3]
        failed = n % 7 == 0
        made.append(
            make_event(
                kind,
                f"{kind}.name-{n % 4}",
                start_ns=T0 + n * 60 * NS,
                duration_ns=(n + 1) * 1_000_000,
                status=(500 if failed else 200) if kind == "request" else None,
                error=ValueError(f'bad, "quoted"\nline {n}') if failed else None,
                request_id=f"req-{n}",
                fields={"n": n, "note": 'comma, quote " and newline\n'},
            )
        )
    return made


@pytest.fixture
def stored(any_store_url: str) -> tuple[str, list[Event]]:
    """The events in each SQL store, and in ClickHouse (the real server)."""
    sink: SqlSink
    if any_store_url.startswith("clickhouse"):
        from lookout.store.clickhouse.sink import ClickHouseSink

        sink = ClickHouseSink(any_store_url)
    else:
        sink = SqlSink(any_store_url)
    events = _events()
    sink.write(events[:150])
    sink.write(events[150:])
    sink.close()
    return any_store_url, events


def _expected(events: list[Event], keep: object) -> list[tuple[str, str, str, float, str]]:
    return [
        (e.request_id or "", e.kind, e.name, e.duration_ns / 1e6, e.outcome)
        for e in events
        if keep(e)  # type: ignore[operator]
    ]


def _from_csv(text: str) -> list[tuple[str, str, str, float, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == list(event_export.EXPORT_COLUMNS)
    return [
        (r["request_id"], r["kind"], r["name"], float(r["duration_ms"]), r["outcome"])
        for r in reader
    ]


def _from_json_lines(text: str) -> list[tuple[str, str, str, float, str]]:
    rows = [json.loads(line) for line in text.splitlines()]
    assert all(list(row) == list(event_export.EXPORT_COLUMNS) for row in rows)
    return [(r["request_id"], r["kind"], r["name"], r["duration_ms"], r["outcome"]) for r in rows]


def test_names_kinds_and_a_time_range_select_exactly_their_events(
    stored: tuple[str, list[Event]], tmp_path: Path
) -> None:
    url, events = stored
    start, end = T0 + 60 * 60 * NS, T0 + 200 * 60 * NS  # 01:00 to 03:20 UTC
    out = tmp_path / "requests.csv"
    result = lookout_cli(
        "export",
        "--store",
        url,
        "--kind",
        "request",
        "--kind",
        "run",
        "--name",
        "request.name-1",
        "--name",
        "run.name-3",
        "--name",
        "call.name-0",  # a call: --kind leaves it out
        "--from",
        f"{DAY0:%Y-%m-%d}T01:00",
        "--to",
        f"{DAY0:%Y-%m-%d}T03:20:00Z",
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    expected = _expected(
        events,
        lambda e: (
            e.kind in ("request", "run")
            and e.name in ("request.name-1", "run.name-3")
            and start <= e.start_ns < end
        ),
    )
    assert len(expected) > 10
    assert _from_csv(out.read_text()) == expected  # oldest first, every field as stored
    assert f"{len(expected):,} events written to {out}" in result.stderr

    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    first = next(e for e in events if e.request_id == rows[0]["request_id"])
    assert float(rows[0]["start"]) == pytest.approx(first.start_ns / NS)
    assert json.loads(rows[0]["fields"]) == {"n": 61, "note": 'comma, quote " and newline\n'}


def test_json_lines_to_stdout_and_everything_when_nothing_is_chosen(
    stored: tuple[str, list[Event]],
) -> None:
    url, events = stored
    result = lookout_cli("export", "--store", url, "--format", "jsonl", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert _from_json_lines(result.stdout) == _expected(events, lambda e: True)
    errors = [json.loads(line) for line in result.stdout.splitlines()][::7]
    assert all(row["error_type"] == "ValueError" for row in errors)
    assert errors[1]["error_message"] == 'bad, "quoted"\nline 7'


def test_since_counts_back_from_now(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recent.db'}"
    now = time.time_ns()
    sink = SqlSink(url)
    sink.write(
        [
            make_event("call", "old", start_ns=now - 3 * 3600 * NS, duration_ns=1000),
            make_event("call", "recent", start_ns=now - 600 * NS, duration_ns=1000),
        ]
    )
    sink.close()
    result = lookout_cli("export", "--store", url, "--since", "1h", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["name"] for line in result.stdout.splitlines()] == ["recent"]


def test_nothing_matching_is_a_header_and_no_rows(stored: tuple[str, list[Event]]) -> None:
    url, _ = stored
    result = lookout_cli("export", "--store", url, "--name", "no-such-name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [",".join(event_export.EXPORT_COLUMNS)]
    assert "0 events written to stdout" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-12-02", "--to", "2026-12-01"], "--from must be before --to"),
        (["--from", "yesterday"], "--from 'yesterday': expected a date"),
        (["--since", "1h", "--from", "2026-12-01"], "give --since or --from, not both"),
        (["--kind", "thing"], "Invalid value for '--kind'"),
    ],
)
def test_bad_ranges_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    SqlSink(url).close()
    result = lookout_cli("export", "--store", url, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_store_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    result = lookout_cli("export", "--store", f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_100k_events_stream_in_bounded_memory(tmp_path: Path) -> None:
    """The export holds a chunk of rows, not the events: peak memory stays a fraction of
    the output (reading them all into one string peaks at twice the output)."""
    url = f"sqlite:///{tmp_path / 'big.db'}"
    sink = SqlSink(url)
    total = 100_000
    for first in range(0, total, 10_000):
        sink.write(
            [
                make_event(
                    "request",
                    f"page-{n % 5}",
                    start_ns=T0 + n * 10_000_000,
                    duration_ns=n + 1,
                    request_id=f"r{n}",
                    fields={"path": f"/pages/{n}"},
                )
                for n in range(first, first + 10_000)
            ]
        )
    sink.close()
    store = SqlStore(url)
    out = tmp_path / "big.csv"
    reports: list[tuple[int, int, int]] = []
    tracemalloc.start()
    try:
        with out.open("w", newline="") as target:
            for chunk in event_export.stream(
                store,
                event_export.selection(kinds=["request"]),
                from_ns=None,
                to_ns=None,
                as_csv=True,
                progress=lambda *report: reports.append(report),
            ):
                target.write(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        store.close()
    size = out.stat().st_size
    with out.open(newline="") as source:
        rows = list(csv.DictReader(source))
    assert len(rows) == total
    assert [row["request_id"] for row in rows[:3]] == ["r0", "r1", "r2"]
    assert rows[-1]["request_id"] == f"r{total - 1}"
    assert peak < size / 2, (peak, size)
    assert len(reports) >= 2  # the progress bar moves window by window
    assert reports[-1] == (total, total, total)
