"""The ClickHouse store's SQL on a current ClickHouse engine: chdb (ClickHouse embedded in a
Python process, 26.x) runs the schema, its materialized views and the read queries, and answers
what the 18.16 server answers for the same events.

chdb-core is not in the ``test`` extra (its wheel is 181 MB, 559 MB installed, and it asks for
pandas and pyarrow, which these queries do not need): ``.ci/run`` installs it with
``--no-deps``; elsewhere this skips unless it is installed. The engine runs in a process of
its own (tests/store/chdb_check.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")
pytest.importorskip("chdb")

from lookout.store.clickhouse import queries, schema
from lookout.store.clickhouse.errors import Grouper
from lookout.store.clickhouse.sink import ClickHouseSink
from lookout.store.clickhouse.writer import columns
from tests.store.chdb_check import _rollups, dashboard_reads, error_reads
from tests.store.test_clickhouse import _events

NS = 1_000_000_000
ROOT = Path(__file__).resolve().parents[2]


def _plain(value: Any) -> Any:
    """As JSON gives it back (tuples as lists)."""
    return json.loads(json.dumps(value))


def test_the_schema_and_queries_run_on_a_current_engine_as_on_18_16(
    clickhouse_url: str, tmp_path: Path
) -> None:
    now_ns = time.time_ns()
    batch = _events(now_ns, 5000, seed=5, spread_s=7200)
    old = ClickHouseSink(clickhouse_url)
    old.write(batch[:2500])
    old.write(batch[2500:])
    names = (*schema.EVENT_COLUMNS, *schema.ERROR_COLUMNS)
    rows = [
        dict(zip(names, row, strict=True))
        for row in zip(*columns(batch), *Grouper().columns(batch), strict=True)
    ]
    (tmp_path / "events.json").write_text(json.dumps(rows))
    start_s = (now_ns // NS - 3 * 3600) // 3600 * 3600
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.store.chdb_check",
            "events.json",
            "result.json",
            str(start_s),
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    current = json.loads((tmp_path / "result.json").read_text())
    assert int(current["version"].split(".")[0]) >= 24
    for bucket_s in (60, 3600):
        for per_bucket in (False, True):
            ours = current[f"rollups-{bucket_s}-{per_bucket}"]
            theirs = _plain(
                _rollups(
                    queries.merged_rollups(
                        old.store,
                        bucket_s=bucket_s,
                        start_s=start_s,
                        kinds=("request",),
                        per_bucket=per_bucket,
                    )
                )
            )
            assert sum(row[3] for row in ours) == 5000
            for mine, other in zip(ours, theirs, strict=True):
                # the float sum of squares may be added in another order; all else is equal
                assert mine[6] == pytest.approx(other[6], rel=1e-12)
                assert mine[:6] + mine[7:] == other[:6] + other[7:]
    dashboard = _plain(dashboard_reads(old.store, start_s))
    for read in ("by_version", "per_hour", "filtered"):
        assert len(current[read]) == len(dashboard[read]) > 0, read
        for mine, other in zip(current[read], dashboard[read], strict=True):
            assert mine[6] == pytest.approx(other[6], rel=1e-12)
            assert mine[:6] + mine[7:] == other[:6] + other[7:]
    assert current["first"] == dashboard["first"] and current["origins"] == dashboard["origins"]
    assert len(current["origins"]) == 3  # versions 1.0, 1.1, 1.2 on one host
    assert current["hours"] == _plain(sorted(queries.hour_counts(old.store, ("request",), start_s)))
    assert current["names"] == queries.names_of_kind(old.store, "request")
    assert len(current["names"]) == 4
    assert current["latest"] == _plain(queries.latest_of_kind(old.store, "request"))
    mistakes = _plain(error_reads(old.store, start_s))
    assert current["errors"] == mistakes and mistakes["states"], (current["errors"], mistakes)
    old.close()
