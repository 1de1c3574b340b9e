"""A small Flask shop monitored by Lookout: every request, the user behind it, a tracked
``g`` variable and a custom metric.

Run it::

    pip install 'lookout[flask]'
    python examples/flask_app.py            # http://127.0.0.1:5000, dashboard at /dashboard/

Every request goes into ``./lookout.db`` (or the store named by ``LOOKOUT_STORE``). The
dashboard's admin password is printed once at start (or set ``LOOKOUT_DASHBOARD_ADMIN_PASSWORD``).
"""

from __future__ import annotations

import os
import random
import time

from flask import Flask, abort, g, jsonify, request

from lookout import Lookout
from lookout.flask import LookoutFlask, add_metric

app = Flask(__name__)
lookout_flask = LookoutFlask(
    app,
    Lookout(app_version=os.environ.get("SHOP_VERSION", "1.0")),
    # who made the request: the dashboard compares latency per user
    group_by=lambda: g.get("user_id"),
    # values recorded with each request, per HTTP method
    track_g={"GET": ["user_id"], "POST": ["user_id", "cart_size"]},
)

PRODUCTS = {1: ("kettle", 2999), 2: ("teapot", 1999), 3: ("mug", 599)}


@app.before_request
def identify() -> None:
    g.user_id = request.headers.get("X-User", "anonymous")


@app.get("/products")
def products() -> object:
    time.sleep(random.uniform(0.001, 0.004))  # a database query, say
    return jsonify([{"id": key, "name": name} for key, (name, _) in PRODUCTS.items()])


@app.get("/products/<int:product_id>")
def product(product_id: int) -> object:
    if product_id not in PRODUCTS:
        abort(404)
    name, price = PRODUCTS[product_id]
    return jsonify({"id": product_id, "name": name, "price_cents": price})


@app.post("/checkout")
def checkout() -> object:
    cart = request.get_json(silent=True) or {}
    g.cart_size = len(cart.get("items", []))
    total = sum(PRODUCTS[item][1] for item in cart.get("items", []) if item in PRODUCTS)
    if total == 0:
        raise ValueError("an empty cart cannot be checked out")  # recorded as an error
    add_metric("OrderValue", total / 100, unit="None", dimensions={"currency": "EUR"})
    return jsonify({"total_cents": total})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
