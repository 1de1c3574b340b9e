"""``lookout demo --dataset 7d``: a week of a shop's history, written through the real store.

The live demo (:mod:`lookout.demo`) records a few seconds of traffic, which leaves most of a
dashboard's charts empty. This generator writes what seven days of a small shop would have
left in the store, through the same writer as the recorder (:class:`~lookout.sinks.sql.SqlSink`:
raw events, minute and hour rollups with their latency sketches), so every page has something
true to show, and the screenshots in docs/screenshots/ come from it:

- traffic that follows the day (a peak in the afternoon, UTC) and the week (quieter weekends),
  from 80 users on three web hosts, each host running two processes;
- three deploys: 1.0, then 1.1 (whose recommendations fail with a ``KeyError`` now and then),
  then 1.2 (which fixes that, but whose search ranks 60 % slower: the regression to find);
  host web-3 is a noisy neighbour, a quarter slower than the others;
- errors of several kinds: declined payments (a 500 with a traceback through the app's frames),
  out-of-stock (a handled 409, the monitored call fails), a database error raised from library
  frames, unknown products (404), failed logins (401) and a 20-minute 503 incident with no
  exception at all;
- monitored calls under the requests (search ranking, stock reservation, payment), a profiled
  endpoint (``search``, level 3: folded stacks per request), outliers with sampled stacks on
  ``export_csv``;
- jobs (:mod:`lookout.demo_jobs`: a nightly export with one failure, an hourly sync), custom
  metrics (order value, cart size) and the test suite's runs as the pytest plugin records them
  (:mod:`lookout.demo_testruns`: nightly on main, pull requests on a branch).

Deterministic for a given ``seed`` and ``now_s``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lookout.demo_failures import (
    PROFILE_SOURCE,
    database_locked,
    declined_payment,
    missing_key,
    out_of_stock,
    profile,
)
from lookout.demo_jobs import jobs
from lookout.demo_testruns import write_runs
from lookout.events import Event
from lookout.sinks.sql import SqlSink

NS = 1_000_000_000
HOUR = 3600
DAY = 86400
#: (version, deployed this many days before now)
VERSIONS = (("1.0", 7.0), ("1.1", 4.6), ("1.2", 1.6))
HOSTS = ("web-1", "web-2", "web-3")
SLOW_HOST = "web-3"
USERS = [f"user-{n}" for n in range(1, 81)]
AGENTS = ("Chrome", "Firefox", "Safari", "curl", "python-requests")
#: endpoint -> (method, rule, share of traffic, median ms, spread)
ENDPOINTS: dict[str, tuple[str, str, float, float, float]] = {
    "index": ("GET", "/", 0.16, 3.0, 0.3),
    "products": ("GET", "/products", 0.18, 9.0, 0.35),
    "product": ("GET", "/products/<int:product_id>", 0.24, 6.0, 0.4),
    "search": ("GET", "/search", 0.14, 24.0, 0.45),
    "recommendations": ("GET", "/api/recommendations", 0.1, 14.0, 0.3),
    "cart": ("POST", "/cart", 0.08, 18.0, 0.6),
    "checkout": ("POST", "/checkout", 0.05, 60.0, 0.4),
    "login": ("POST", "/login", 0.04, 45.0, 0.2),
    "export_csv": ("GET", "/export.csv", 0.01, 350.0, 0.5),
}


@dataclass
class Written:
    """What :func:`generate` wrote."""

    events: int = 0
    requests: int = 0
    test_runs: int = 0
    seconds: float = 0.0


class _Shop:
    """Makes the events of one hour of traffic."""

    def __init__(self, rng: random.Random, now_s: int, search_slowdown: float) -> None:
        self.rng = rng
        self.search_slowdown = search_slowdown
        self.now_s = now_s
        self.deploys = [(v, now_s - int(days_ago * DAY)) for v, days_ago in VERSIONS]
        self.names = list(ENDPOINTS)
        self.weights = [ENDPOINTS[n][2] for n in self.names]
        self.request_no = 0
        self.incident = (now_s - 3 * DAY) // DAY * DAY + 14 * HOUR  # 14:00-14:20 UTC

    def version_at(self, t: int) -> tuple[str, int]:
        """The version deployed at ``t`` and its index (for the process ids)."""
        found = 0
        for index, (_, deployed) in enumerate(self.deploys):
            if t >= deployed:
                found = index
        return self.deploys[found][0], found

    def requests(self, hour_start: int, count: int) -> Iterator[Event]:
        rng = self.rng
        starts = sorted(hour_start * NS + int(rng.random() * HOUR * NS) for _ in range(count))
        for start_ns in starts:
            if start_ns // NS >= self.now_s:
                break
            name = rng.choices(self.names, self.weights)[0]
            yield from self.request(name, start_ns)

    def request(self, name: str, start_ns: int) -> Iterator[Event]:
        rng = self.rng
        method, rule, _, median_ms, spread = ENDPOINTS[name]
        t = start_ns // NS
        version, deploy = self.version_at(t)
        host = rng.choice(HOSTS)
        pid = 1000 + 100 * deploy + HOSTS.index(host) * 2 + rng.randint(0, 1)
        user = (
            USERS[min(int(rng.paretovariate(1.2)) - 1, len(USERS) - 1)]
            if rng.random() < 0.9
            else None
        )
        self.request_no += 1
        rid = f"{self.request_no:08x}{rng.getrandbits(64):016x}"
        slow = 1.25 if host == SLOW_HOST else 1.0
        if name == "search" and version == "1.2":
            slow *= self.search_slowdown
        duration_ms = rng.lognormvariate(math.log(median_ms * slow), spread)
        status, outcome = 200, "ok"
        error: tuple[str, str, str] | None = None
        path = rule
        fields: dict[str, Any] = {}
        calls: list[Event] = []

        def call(
            call_name: str,
            ms: float,
            failure: tuple[str, str, str] | None = None,
            extra: dict[str, Any] | None = None,
        ) -> None:
            calls.append(
                Event(
                    "call",
                    call_name,
                    start_ns + int(duration_ms * 0.1 * 1e6),
                    int(ms * 1e6),
                    "error" if failure else "ok",
                    None,
                    host,
                    pid,
                    version,
                    rid,
                    user,
                    None,
                    {"team": "shop"},
                    extra or {},
                    *(failure or (None, None, None)),
                )
            )

        if name == "product":
            product = rng.randint(1, 45)
            path = f"/products/{product}"
            if product > 40:
                status = 404
        elif name == "search":
            path = f"/search?q=product-{rng.randint(1, 9)}"
            call("shop.search.rank", duration_ms * 0.6)
            if t >= self.now_s - 2 * DAY:
                fields["profile"] = profile(duration_ms, slow)
                fields["profile_source"] = PROFILE_SOURCE
                fields["profile_interval_ms"] = 10.0
        elif name == "recommendations":
            if version == "1.1" and user and rng.random() < 0.08:
                status, outcome, error = 500, "error", missing_key(user)
            elif self.incident <= t < self.incident + 20 * 60 and rng.random() < 0.5:
                status, outcome = 503, "error"
        elif name == "cart":
            product = rng.randint(1, 40)
            fields["g"] = {
                "user_id": user,
                "cart": {"product_id": product, "quantity": rng.randint(1, 3)},
            }
            failed = rng.random() < 0.03
            call(
                "shop.inventory.reserve",
                duration_ms * 0.7,
                out_of_stock(product) if failed else None,
            )
            status = 409 if failed else 200
        elif name == "checkout":
            amount = rng.randint(500, 50_000)
            declined = rng.random() < 0.06
            charged = declined_payment(amount) if declined else None
            call("shop.payments.charge", duration_ms * 0.8, charged, {"amount_cents": amount})
            if declined:
                status, outcome, error = 500, "error", charged
            else:
                status = 201
                calls.append(
                    Event(
                        "metric",
                        "OrderValue",
                        start_ns + int(duration_ms * 1e6),
                        0,
                        "ok",
                        None,
                        host,
                        pid,
                        version,
                        rid,
                        None,
                        None,
                        {"currency": "EUR"},
                        {"value": amount / 100, "unit": "None", "endpoint": name},
                    )
                )
        elif name == "login" and rng.random() < 0.08:
            status = 401
        elif name == "export_csv":
            if rng.random() < 0.03:
                status, outcome, error = 500, "error", database_locked()
            elif duration_ms > 900:
                fields["outlier"] = {
                    "threshold_ms": 900.0,
                    "headers": {"User-Agent": "curl/8.5.0", "Accept": "text/csv"},
                    "args": {},
                    "view_args": {},
                    "stacks": [
                        "views.py:export_csv;csv_export.py:rows;sqlalchemy/engine/base.py:execute"
                    ]
                    * 3,
                }
        fields.update(
            {
                "method": method,
                "path": path,
                "rule": rule,
                "response_bytes": rng.randint(200, 9000),
                "user_agent": rng.choice(AGENTS),
            }
        )
        if name == "cart" and calls:
            calls.append(
                Event(
                    "metric",
                    "CartSize",
                    start_ns + int(duration_ms * 1e6),
                    0,
                    "ok",
                    None,
                    host,
                    pid,
                    version,
                    rid,
                    None,
                    None,
                    {},
                    {"value": float(rng.randint(1, 6)), "unit": "Count", "endpoint": name},
                )
            )
        yield Event(
            "request",
            name,
            start_ns,
            int(duration_ms * 1e6),
            outcome,
            status,
            host,
            pid,
            version,
            rid,
            user,
            f"10.{USERS.index(user) % 4}.0.{USERS.index(user) + 10}" if user else "10.9.0.1",
            {"method": method},
            fields,
            *(error or (None, None, None)),
        )
        yield from calls


def _traffic(hour_start: int, per_hour: float) -> float:
    """Requests in an hour: a daily curve peaking at 15:00 UTC, weekends at 60 %."""
    hour = hour_start % DAY // HOUR
    weekday = (hour_start // DAY + 3) % 7
    daily = 0.35 + 0.65 * math.pow(0.5 + 0.5 * math.cos((hour - 15) / 24 * 2 * math.pi), 1.5)
    return per_hour * daily * (0.6 if weekday >= 5 else 1.0)


def generate(
    store_url: str,
    *,
    days: int = 7,
    requests_per_hour: float = 900.0,
    seed: int = 7,
    now_s: int | None = None,
    search_slowdown: float = 1.6,
    progress: Callable[[int, int], None] | None = None,
) -> Written:
    """Write ``days`` of the shop's history ending at ``now_s`` into ``store_url``.

    ``requests_per_hour`` is the busiest hour's traffic (the default writes about 100,000
    requests and 35,000 other events over a week, in half a minute on SQLite);
    ``search_slowdown`` is how much slower version 1.2's search is (1.0: not at all).
    """
    now_s = int(time.time()) if now_s is None else now_s
    rng = random.Random(seed)
    shop = _Shop(rng, now_s, search_slowdown)
    sink = SqlSink(store_url)
    written = Written()
    started = time.perf_counter()
    first_hour = (now_s - days * DAY) // HOUR * HOUR
    hours = list(range(first_hour, now_s, HOUR))
    batch: list[Event] = []
    for done, hour_start in enumerate(hours):
        count = int(_traffic(hour_start, requests_per_hour) * rng.uniform(0.85, 1.15))
        batch += jobs(hour_start, rng, now_s, shop.version_at(hour_start)[0])
        for event in shop.requests(hour_start, count):
            batch.append(event)
            written.requests += event.kind == "request"
        if len(batch) >= 5000 or done == len(hours) - 1:
            batch.sort(key=lambda e: e.start_ns)
            sink.write(batch)
            written.events += len(batch)
            batch = []
        if progress is not None:
            progress(done + 1, len(hours))
    sink.close()
    written.test_runs = write_runs(
        store_url,
        seed=seed,
        first_s=first_hour,
        now_s=now_s,
        version_at=lambda t: shop.version_at(t)[0],
        search_slowdown=search_slowdown,
    )
    written.seconds = time.perf_counter() - started
    return written
