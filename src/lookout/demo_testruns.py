"""The shop's test-suite history for ``lookout demo --dataset 7d``: runs as the pytest plugin
records them, so the Tests page has something true to show.

A nightly run on ``main`` with five repeats of every test (``--lookout-repeat 5``) and the
endpoints each test hit, plus a few pull-request runs on a feature branch. What the page should
find is put there on purpose: version 1.2's search test is slower by the same factor as the
search endpoint in production (``search_slowdown``), ``test_checkout_declined`` fails now and
then (a flaky test, with its assertion message and traceback), and the other tests keep their
speed. Runs go through :func:`lookout.testruns.records.save_run`, as the dashboard's API
stores them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from lookout.store.engine import SqlStore
from lookout.testruns.document import EndpointHits, RunDocument, TestResult
from lookout.testruns.records import save_run

DAY = 86400
NS = 1_000_000_000
REPEAT = 5
#: The spread of a test's repeats (lognormal sigma): 3 %, as a CPU-bound test on a quiet
#: runner; with it, an unchanged test is flagged (p < 0.05 and 5 % apart) about once in 10,000.
CALL_SPREAD = 0.03


@dataclass(frozen=True)
class ShopTest:
    """One of the shop's tests: its median call in ms and the endpoints it requests."""

    median_ms: float
    endpoints: tuple[tuple[str, str, float], ...] = ()  # (endpoint, method, median ms)


TESTS = {
    "tests/test_catalog.py::test_products_listed": ShopTest(12.0, (("products", "GET", 8.0),)),
    "tests/test_catalog.py::test_unknown_product_404": ShopTest(4.0, (("product", "GET", 2.5),)),
    "tests/test_search.py::test_search_ranks_by_name": ShopTest(85.0, (("search", "GET", 21.0),)),
    "tests/test_cart.py::test_add_to_cart": ShopTest(30.0, (("cart", "POST", 15.0),)),
    "tests/test_cart.py::test_out_of_stock_409": ShopTest(22.0, (("cart", "POST", 12.0),)),
    "tests/test_checkout.py::test_checkout_charges_card": ShopTest(
        140.0, (("cart", "POST", 15.0), ("checkout", "POST", 55.0))
    ),
    "tests/test_checkout.py::test_checkout_declined": ShopTest(95.0, (("checkout", "POST", 50.0),)),
    "tests/test_export.py::test_export_csv": ShopTest(420.0, (("export_csv", "GET", 330.0),)),
    "tests/test_login.py::test_login_sets_session": ShopTest(48.0, (("login", "POST", 40.0),)),
    "tests/test_util.py::test_slugify": ShopTest(0.4),
}
FLAKY = "tests/test_checkout.py::test_checkout_declined"
SLOWED = {"tests/test_search.py::test_search_ranks_by_name": "search"}
FLAKY_MESSAGE = "AssertionError: expected status 402, got 504 (payment gateway timed out)"
FLAKY_TRACEBACK = """tests/test_checkout.py:41: in test_checkout_declined
    response = client.post("/checkout", json={"card": DECLINED_CARD})
    assert response.status_code == 402, response.json
E   AssertionError: expected status 402, got 504 (payment gateway timed out)
E   assert 504 == 402
E    +  where 504 = <WrapperTestResponse streamed [504 GATEWAY TIMEOUT]>.status_code"""


def _run(
    rng: random.Random,
    key: str,
    start_s: int,
    version: str,
    branch: str,
    slowdown: float,
) -> RunDocument:
    results = []
    for name, test in TESTS.items():
        factor = slowdown if name in SLOWED and version == "1.2" else 1.0
        durations = [
            int(rng.lognormvariate(math.log(test.median_ms * factor), CALL_SPREAD) * 1e6)
            for _ in range(REPEAT)
        ]
        hits = []
        for endpoint, method, median_ms in test.endpoints:
            slow = factor if SLOWED.get(name) == endpoint else 1.0
            hits.append(
                EndpointHits(
                    endpoint,
                    method,
                    [
                        int(rng.lognormvariate(math.log(median_ms * slow), 0.15) * 1e6)
                        for _ in range(REPEAT)
                    ],
                )
            )
        failed = name == FLAKY and rng.random() < 0.3
        results.append(
            TestResult(
                name=name,
                outcome="failed" if failed else "passed",
                setup_ns=int(rng.uniform(0.2, 2.0) * 1e6),
                teardown_ns=int(rng.uniform(0.1, 0.8) * 1e6),
                durations_ns=durations,
                message=FLAKY_MESSAGE if failed else None,
                traceback=FLAKY_TRACEBACK if failed else None,
                endpoints=hits,
            )
        )
    total = sum(sum(r.durations_ns) + r.setup_ns + r.teardown_ns for r in results)
    commit = f"{rng.getrandbits(160):040x}"
    return RunDocument(
        key=key,
        started_ns=start_s * NS,
        duration_ns=total + int(1.5 * NS),
        exit_status=int(any(r.outcome == "failed" for r in results)),
        repeat=REPEAT,
        identity={
            "version": version,
            "commit": commit,
            "branch": branch,
            "dirty": False,
            "ci_provider": "github",
            "ci_run_id": str(rng.randint(10**9, 10**10)),
            "ci_url": None,
            "python": "3.12.7",
            "platform": "Linux-6.8-x86_64",
            "host": "ci-runner",
        },
        results=results,
    )


def write_runs(
    store_url: str,
    *,
    seed: int,
    first_s: int,
    now_s: int,
    version_at: Callable[[int], str],
    search_slowdown: float,
) -> int:
    """Store the nightly and pull-request runs between ``first_s`` and ``now_s``; returns how
    many runs were written. Their random draws come from ``seed`` alone (not the traffic's)."""
    store = SqlStore(store_url)
    written = 0
    try:
        day = first_s // DAY * DAY
        while day < now_s:
            starts = [(day + 2 * 3600 + 600, "main")]
            if (day // DAY) % 2:
                starts.append((day + 15 * 3600, "feature/faster-search"))
            for start_s, branch in starts:
                if first_s <= start_s < now_s:
                    key = f"demo-{branch}-{start_s}"
                    # each run's draws depend on the seed and its day before now only, so the
                    # same seed gives the same runs whatever the time of day of ``now_s``
                    rng = random.Random(f"{seed}:{branch}:{(now_s - start_s) // DAY}")
                    run = _run(rng, key, start_s, version_at(start_s), branch, search_slowdown)
                    written += save_run(store, run)[1]
            day += DAY
    finally:
        store.close()
    return written
