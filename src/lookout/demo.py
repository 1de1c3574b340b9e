"""``lookout demo``: a small shop, monitored end to end, under real HTTP traffic.

Two versions of the shop are deployed one after the other (1.1 has a slower search: a
regression to find), simulated customers log in, browse, fill carts and check out over real
HTTP on 127.0.0.1, payments sometimes decline and the warehouse sometimes has no stock. Both
the Flask requests and the monitored functions behind them are recorded.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.serving import BaseWSGIServer, make_server

from lookout.core import Lookout
from lookout.flask import LookoutFlask, add_metric

PRODUCTS = {n: f"product-{n}" for n in range(1, 41)}
USERS = [f"user-{n}" for n in range(1, 26)]


class PaymentDeclined(Exception):
    """The demo's payment provider said no."""


class OutOfStock(Exception):
    """The demo's warehouse ran out."""


def _pause(mean_ms: float, sigma: float = 0.4) -> None:
    time.sleep(random.lognormvariate(0, sigma) * mean_ms / 1000)


def _set_admin_password(lk: Lookout) -> str | None:
    """A new admin password for the demo's store, kept (hashed) in the store itself.

    Kept in the store rather than given to the demo's app only, so that ``lookout dashboard``
    on the same store, or any other process, accepts the login the demo prints. The demo owns
    its store: a rerun replaces the previous run's password, which was printed and lost.
    """
    if lk.store is None:
        return None
    from werkzeug.security import generate_password_hash

    from lookout.dashboard.auth import ADMIN_HASH_KEY
    from lookout.store.settings import write_setting

    password = secrets.token_urlsafe(9)
    write_setting(lk.store, ADMIN_HASH_KEY, generate_password_hash(password))
    return password


def create_shop(lk: Lookout, version: str, dashboard_password: str | None = None) -> Flask:
    """The shop's Flask app, recording into ``lk``, with the dashboard at ``/dashboard``."""
    app = Flask("lookout-demo-shop")  # one name across versions: levels set on 1.0 stay
    # The demo's failures are on purpose and their tracebacks are in the store; keep the
    # terminal for the progress bar.
    app.logger.setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    LookoutFlask(
        app,
        lk,
        group_by=lambda: g.get("user_id"),
        track_g={"POST": ["user_id", "cart"], "GET": ["user_id"]},
        dashboard_admin_password=dashboard_password,
        level_refresh_interval=2.0,
    )

    @lk.monitor(name="shop.inventory.reserve", tags={"team": "fulfilment"})
    def reserve(product_id: int) -> None:
        _pause(4, sigma=0.9)  # heavy tail: a slow warehouse now and then
        if random.random() < 0.03:
            raise OutOfStock(f"product {product_id}")

    @lk.monitor(
        name="shop.payments.charge",
        tags={"team": "billing"},
        extra={"amount_cents": lambda call: call.args[0], "card_token": "tok_demo"},
    )
    def charge(amount_cents: int) -> str:
        _pause(30)
        if random.random() < 0.06:
            raise PaymentDeclined(f"card declined for {amount_cents} cents")
        return f"ch_{random.getrandbits(32):08x}"

    @lk.monitor(name="shop.search.rank")
    def rank(query: str) -> list[str]:
        _pause(6 if version == "1.0" else 14)  # 1.1 shipped a slower ranking
        return [name for name in PRODUCTS.values() if query in name][:10]

    @app.before_request
    def login() -> None:
        user = request.headers.get("X-Demo-User")
        if user:
            g.user_id = user

    @app.get("/")
    def index() -> dict[str, str]:
        return {"shop": "lookout demo", "version": version}

    @app.get("/products")
    def products() -> dict[str, object]:
        _pause(2)
        return {"products": list(PRODUCTS.values())[:20]}

    @app.get("/products/<int:product_id>")
    def product(product_id: int) -> tuple[dict[str, object], int]:
        _pause(1.5)
        if product_id not in PRODUCTS:
            return {"error": "no such product"}, 404
        return {"id": product_id, "name": PRODUCTS[product_id]}, 200

    @app.get("/search")
    def search() -> dict[str, object]:
        return {"results": rank(request.args.get("q", ""))}

    @app.post("/cart")
    def cart() -> dict[str, object]:
        body = request.get_json(silent=True) or {}
        g.cart = {"product_id": body.get("product_id"), "quantity": body.get("quantity", 1)}
        reserve(int(body.get("product_id", 1)))
        return {"ok": True}

    @app.post("/checkout")
    def checkout() -> tuple[dict[str, object], int]:
        amount = random.randint(500, 50_000)
        charge_id = charge(amount)  # a decline propagates: an unhandled error, status 500
        add_metric("OrderValue", amount / 100, unit="None", dimensions={"currency": "EUR"})
        return {"charge": charge_id}, 201

    @app.get("/api/recommendations")
    async def recommendations() -> dict[str, object]:
        await asyncio.sleep(random.lognormvariate(0, 0.3) * 0.012)
        return {"recommended": random.sample(list(PRODUCTS.values()), 3)}

    @app.get("/export.csv")
    def export() -> Response:
        def rows() -> Iterator[str]:
            yield "id,name\n"
            for product_id, name in PRODUCTS.items():
                if product_id % 10 == 0:
                    time.sleep(0.002)
                yield f"{product_id},{name}\n"

        return app.response_class(rows(), mimetype="text/csv")

    @app.errorhandler(OutOfStock)
    def out_of_stock(error: OutOfStock) -> tuple[dict[str, str], int]:
        return {"error": str(error)}, 409

    return app


@dataclass
class Traffic:
    """Counts what the simulated customers got back."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1


_AGENTS = (
    "Mozilla/5.0 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 Firefox/131.0",
    "curl/8.5.0",
    "python-requests/2.32",
)


def _call(
    connection: http.client.HTTPConnection,
    user: str,
    traffic: Traffic,
    method: str,
    path: str,
    body: Mapping[str, object] | None = None,
) -> None:
    headers = {"X-Demo-User": user, "User-Agent": random.choice(_AGENTS)}
    payload = None
    if body is not None:
        payload = json.dumps(body)
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    response.read()
    traffic.count(response.status)


def _visit(connection: http.client.HTTPConnection, user: str, traffic: Traffic) -> None:
    """One customer session: browse, search, sometimes buy."""
    _call(connection, user, traffic, "GET", "/")
    _call(connection, user, traffic, "GET", "/products")
    for _ in range(random.randint(1, 3)):
        _call(connection, user, traffic, "GET", f"/products/{random.randint(1, 45)}")
    _call(connection, user, traffic, "GET", f"/search?q=product-{random.randint(1, 9)}")
    _call(connection, user, traffic, "GET", "/api/recommendations")
    if random.random() < 0.6:
        cart = {"product_id": random.randint(1, 40), "quantity": 1}
        _call(connection, user, traffic, "POST", "/cart", cart)
        _call(connection, user, traffic, "POST", "/checkout", {})
    if random.random() < 0.1:
        _call(connection, user, traffic, "GET", "/export.csv")


def _customer(port: Callable[[], int], stop: threading.Event, traffic: Traffic) -> None:
    """One simulated customer session after another until ``stop`` is set."""
    while not stop.is_set():
        connection = http.client.HTTPConnection("127.0.0.1", port(), timeout=10)
        try:
            _visit(connection, random.choice(USERS), traffic)
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)  # the server is switching versions
        finally:
            connection.close()


class ShopServer:
    """Serves one shop app on 127.0.0.1 in a background thread."""

    def __init__(self, app: Flask, port: int) -> None:
        if port:  # werkzeug exits the process on a busy port: find out first, and raise
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", port))
        self.server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self.server.port
        self.dashboard_password: str | None = None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def run_demo(
    store: str | None,
    *,
    seconds: float,
    customers: int,
    port: int,
    on_tick: Callable[[float, int, str], None] | None = None,
) -> tuple[ShopServer, Lookout, Traffic]:
    """Deploy shop 1.0, drive traffic, deploy 1.1 on the same port, drive more traffic.

    Returns the server still serving 1.1, its Lookout instance and the traffic counts; the
    caller stops the server and closes the instance.
    """
    options: dict[str, Any] = {} if store is None else {"store": store}
    old = Lookout(app_version="1.0", **options)
    password = _set_admin_password(old)
    server = ShopServer(create_shop(old, "1.0"), port)
    current: dict[str, Any] = {"port": server.port, "version": "1.0"}
    stop = threading.Event()
    traffic = Traffic()
    threads = [
        threading.Thread(
            target=_customer, args=(lambda: current["port"], stop, traffic), daemon=True
        )
        for _ in range(customers)
    ]
    for thread in threads:
        thread.start()
    new: Lookout | None = None
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        if new is None and elapsed >= seconds / 2:  # the deploy: 1.1 replaces 1.0
            new = Lookout(app_version="1.1", **options)
            server.stop()
            server = ShopServer(create_shop(new, "1.1"), current["port"])
            current["version"] = "1.1"
            old.close()
        if on_tick is not None:
            on_tick(elapsed, traffic.requests, current["version"])
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(15)
    if on_tick is not None:
        on_tick(seconds, traffic.requests, current["version"])
    server.dashboard_password = password
    current_lookout = old if new is None else new
    nightly_export(current_lookout, traffic)
    return server, current_lookout, traffic


def nightly_export(lk: Lookout, traffic: Traffic) -> None:
    """A supervised batch job, so the dashboard's Jobs page has a run to show."""
    with lk.supervise("shop.nightly-export", schedule="0 3 * * *", send_summary=False) as run:
        time.sleep(0.05)  # "exporting"
        run.summary(f"{traffic.requests:,} requests of the day summarised")
