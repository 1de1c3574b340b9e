"""Error groups and event ids on a ClickHouse store (the real 18.16 server): what the SQL
store's tests do not reach: events of one microsecond told apart, a group's months dropped by
retention, and a store made before the error columns upgraded in place."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytest.importorskip("clickhouse_driver")

from lookout.dashboard import create_app
from lookout.events import ERROR, Event
from lookout.store.clickhouse import errors, schema
from lookout.store.clickhouse.retention import prune
from lookout.store.clickhouse.sink import ClickHouseSink
from lookout.store.clickhouse.store import ClickHouseStore

NS = 1_000_000_000
DAY_NS = 86400 * NS


def _get(client: Any, path: str) -> Any:
    answer = client.get(f"/dashboard/api/{path}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def test_events_of_one_microsecond_have_ids_of_their_own(clickhouse_url: str) -> None:
    start = time.time_ns() // 1000 * 1000
    same = [
        Event("request", "/pay", start + n, 1000, host=f"web-{n}", request_id=f"r{n}")
        for n in range(3)
    ]
    sink = ClickHouseSink(clickhouse_url)
    sink.write([*same, Event("request", "/pay", start - NS, 1000, request_id="before")])
    sink.close()
    client = create_app(clickhouse_url, auth=False).test_client()
    rows = _get(client, "explorer/events?range=1h&limit=2")
    assert [r["request_id"] for r in rows["rows"]] == ["r2", "r1"]
    following = _get(client, f"explorer/events?range=1h&limit=2&cursor={rows['next']}")
    assert [r["request_id"] for r in following["rows"]] == ["r0", "before"]
    ids = [r["id"] for r in rows["rows"] + following["rows"]]
    assert len(set(ids)) == 4 and ids == sorted(ids, reverse=True) and max(ids) < 2**53
    for row in rows["rows"] + following["rows"]:
        assert _get(client, f"explorer/events/{row['id']}")["request_id"] == row["request_id"]
    assert client.get(f"/dashboard/api/explorer/events/{max(ids) + 5}").status_code == 404
    exported = client.get("/dashboard/api/explorer/export?format=jsonl").get_data(as_text=True)
    assert [json.loads(line)["id"] for line in exported.splitlines()] == ids[::-1]


def _error(start_ns: int, message: str = "boom") -> Event:
    return Event(
        "call", "jobs.sync", start_ns, 1000, ERROR, error_type="OSError", error_message=message
    )


def test_retention_drops_a_groups_old_months(clickhouse_url: str) -> None:
    now_ns = time.time_ns()
    sink = ClickHouseSink(clickhouse_url)
    sink.write(
        [_error(now_ns - 80 * DAY_NS), _error(now_ns - NS), _error(now_ns - 90 * DAY_NS, "old")]
    )
    sink.close()
    store = ClickHouseStore(clickhouse_url)
    assert sorted(group.count for group in errors.groups(store)) == [1, 2]
    prune(store, older_than_s=400 * 86400, rollups_older_than_s=45 * 86400, now_ns=now_ns)
    [group] = errors.groups(store)  # the group only seen 90 days ago is gone
    assert group.count == 1 and group.first_ns == now_ns - NS
    store.close()


def test_a_store_made_before_the_error_columns_is_upgraded(clickhouse_url: str) -> None:
    store = ClickHouseStore(clickhouse_url)
    for column in (*schema.ERROR_COLUMNS, *schema.WRITTEN_COLUMNS):
        store.execute(f"ALTER TABLE {store.table(schema.EVENTS)} DROP COLUMN {column}")
    store.close()
    sink = ClickHouseSink(clickhouse_url)  # opens the store: adds the columns back
    sink.write([_error(time.time_ns())])
    sink.close()
    store = ClickHouseStore(clickhouse_url)
    [group] = errors.groups(store)
    assert group.count == 1 and group.error_type == "OSError" and group.culprit == "jobs.sync"
    store.close()
