"""The Errors page and the request explorer over many request events in ClickHouse.

Events are generated inside the server (``INSERT ... SELECT ... FROM numbers(N)``, the
materialized views filling the rollups and the error groups as for any insert): 40 endpoint
names, 3 versions, 8 hosts, 1,000 users, 2 % errors in 60 groups (the fingerprint columns the
writer would store), spread over the last 7 days. Then each API answer is timed through the
dashboard's Flask app (in-process WSGI, so the time is the server's own), best of 3, and an
export of the busiest name's last 24 hours.

    nice -n 10 python benchmarks/clickhouse_errors_explorer.py [--events 3000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.store.clickhouse_server: the server launcher

from benchmarks.clickhouse_dashboard import (  # noqa: E402
    bench_store,
    best_of_3,
    busiest_name,
    generate,
)

from lookout.dashboard import create_app  # noqa: E402

GENERATE = """
INSERT INTO {table} (kind, name, start_ns, duration_ns, is_error, status, host, pid,
    app_version, request_id, group_key, client_ip, tags, fields, error_type, error_message,
    error_group, error_label, error_culprit, written_ns)
SELECT
    'request',
    concat('shop.endpoint', toString(least(39, toUInt32(intHash32(number) % 1000 / 25)))),
    {now_ns} - toInt64(intHash64(number) % (7 * 86400 * 1000000)) * 1000 AS start,
    toInt64(exp(16 + (intHash32(number * 7) % 10000) / 10000 * 2.5)),
    intHash32(number * 3) % 50 = 0 AS failed,
    if(failed, 500, 200),
    concat('web-', toString(number % 8)),
    toUInt32(1000 + number % 8),
    ['1.4.2', '1.5.0', '1.5.1'][number % 3 + 1],
    hex(intHash64(number)),
    concat('user-', toString(intHash32(number * 11) % 1000)),
    concat('10.0.', toString(number % 256), '.', toString(intHash32(number) % 256)),
    NULL,
    concat('{{"method":"GET","path":"/shop/', toString(number % 5000), '"}}'),
    if(failed, concat('KeyError', toString(intHash32(number * 5) % 60)), NULL),
    if(failed, concat('\\'sku-', toString(number), '\\''), NULL),
    if(failed, 1 + intHash32(number * 5) % 60, 0),
    if(failed, concat('KeyError', toString(intHash32(number * 5) % 60)), ''),
    if(failed, concat('shop.views.view', toString(intHash32(number * 5) % 60)), ''),
    start
FROM numbers({first}, {count})
"""

PAGES = (
    "errors",
    "errors?range=7d",
    "errors?range=7d&sort=last_seen",
    "errors?range=7d&version=1.5.0&host=web-3",
    "errors/{group}?range=7d",
    "explorer/events",
    "explorer/events?range=24h",
    "explorer/events?name={name}",
    "explorer/events?status=5xx",
    "explorer/events?user=user-7&name={name}",
    "explorer/events?q=/shop/4242&range=24h",
    "explorer/events?order=oldest&range=7d",
    "explorer/events/{event}",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    args = parser.parse_args()
    with bench_store("lookout-errors-") as (url, store):
        took = generate(store, GENERATE, args.events, time.time_ns())
        print(f"{args.events:,} events generated in {took:.0f} s")
        busiest = busiest_name(store)
        client = create_app(url, auth=False).test_client()
        group = client.get("/dashboard/api/errors?range=7d").get_json()["groups"][0]["id"]
        event = client.get("/dashboard/api/explorer/events").get_json()["rows"][0]["id"]
        print(f"server time per API answer (best of 3; name {busiest}):")
        for page in PAGES:
            path = "/dashboard/api/" + page.format(name=busiest, group=group, event=event)
            best, response = best_of_3(client, path)
            answer = response.get_json()
            rows = len(answer.get("rows", answer.get("groups", [])))
            print(
                f"  {page.format(name='<name>', group='<id>', event='<id>'):46} "
                f"{best * 1000:8.1f} ms  ({rows} rows)"
            )
        began = time.perf_counter()
        response = client.get(f"/dashboard/api/explorer/export?name={busiest}&range=24h")
        exported = response.get_data(as_text=True).count("\n") - 1
        took = time.perf_counter() - began
        print(
            f"  export of {busiest}, 24 h: {exported:,} rows in {took:.1f} s "
            f"({exported / took:,.0f} rows/s)"
        )


if __name__ == "__main__":
    main()
