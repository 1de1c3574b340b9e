"""``lookout demo``: a small shop back end under load, monitored end to end.

The workload is deliberately realistic rather than uniform: a fast catalogue search, a slow
payment call that sometimes declines, an inventory step with a heavy tail, a generator that
streams a receipt, and async calls to a rates service, all driven from several threads.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from lookout.core import Lookout


class PaymentDeclined(Exception):
    """The demo's payment provider said no."""


class OutOfStock(Exception):
    """The demo's warehouse ran out."""


@dataclass
class Shop:
    """The demo's monitored functions, decorated with one Lookout instance."""

    search: Callable[[str], list[str]]
    reserve: Callable[[str], bool]
    charge: Callable[[int], str]
    receipt_lines: Callable[[int], Iterator[str]]
    fetch_rates: Callable[[str], Coroutine[Any, Any, object]]


def build_shop(lk: Lookout) -> Shop:
    def pause(mean_ms: float, sigma: float = 0.4) -> None:
        time.sleep(random.lognormvariate(0, sigma) * mean_ms / 1000)

    @lk.monitor(name="shop.catalog.search", tags={"team": "discovery"})
    def search(query: str) -> list[str]:
        pause(1.5)
        return [f"{query}-{n}" for n in range(5)]

    @lk.monitor(name="shop.inventory.reserve", tags={"team": "fulfilment"})
    def reserve(sku: str) -> bool:
        pause(4, sigma=0.9)  # heavy tail: a slow warehouse now and then
        if random.random() < 0.02:
            raise OutOfStock(sku)
        return True

    @lk.monitor(
        name="shop.payments.charge",
        tags={"team": "billing"},
        extra={"amount_cents": lambda call: call.args[0], "card_token": "tok_live_demo"},
    )
    def charge(amount_cents: int) -> str:
        pause(25)
        if random.random() < 0.05:
            raise PaymentDeclined(f"card declined for {amount_cents} cents")
        return f"ch_{random.getrandbits(32):08x}"

    @lk.monitor(name="shop.emails.receipt_lines")
    def receipt_lines(items: int) -> Iterator[str]:
        for n in range(items):
            pause(0.3)
            yield f"item {n}"

    @lk.monitor(name="shop.rates.fetch")
    async def fetch_rates(currency: str) -> object:
        await asyncio.sleep(random.lognormvariate(0, 0.3) * 0.012)
        return {"currency": currency, "rate": 1.1}

    return Shop(search, reserve, charge, receipt_lines, fetch_rates)


def shopper(shop: Shop, stop: threading.Event, done: list[int]) -> None:
    """One simulated customer session after another until ``stop`` is set."""
    while not stop.is_set():
        for _ in range(random.randint(1, 4)):
            shop.search(random.choice(["lamp", "desk", "chair", "rug"]))
        try:
            shop.reserve(f"sku-{random.randint(1, 500)}")
            shop.charge(random.randint(500, 50_000))
            list(shop.receipt_lines(random.randint(1, 6)))
            asyncio.run(shop.fetch_rates(random.choice(["EUR", "GBP", "JPY"])))
        except (PaymentDeclined, OutOfStock):
            pass
        done[0] += 1


def run_workload(
    lk: Lookout,
    *,
    seconds: float,
    threads: int,
    on_tick: Callable[[float, int], None] | None = None,
) -> int:
    """Drive the shop from ``threads`` threads for ``seconds``; returns sessions completed."""
    shop = build_shop(lk)
    stop = threading.Event()
    done = [0]
    workers = [
        threading.Thread(target=shopper, args=(shop, stop, done), daemon=True)
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        if on_tick is not None:
            on_tick(elapsed, done[0])
        time.sleep(0.1)
    stop.set()
    for worker in workers:
        worker.join()
    if on_tick is not None:
        on_tick(seconds, done[0])
    return done[0]
