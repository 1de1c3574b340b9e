"""The web dashboard over a Lookout store: mounted by ``LookoutFlask`` (at ``/dashboard`` by
default) or served on its own by ``lookout dashboard --store URL`` (see docs/dashboard.md)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, redirect

from lookout.dashboard.blueprint import BLUEPRINT_NAME, DashboardOptions, create_blueprint
from lookout.store.opening import open_store

__all__ = ["BLUEPRINT_NAME", "DashboardOptions", "create_app", "create_blueprint"]


def create_app(store_url: str, *, url_prefix: str = "/dashboard", **options: Any) -> Flask:
    """A Flask app serving only the dashboard over the store at ``store_url``.

    One such app can show a central store that many application instances write to.
    ``options`` are :class:`DashboardOptions` fields.
    """
    store = open_store(store_url)
    app = Flask("lookout_dashboard_server")
    app.secret_key = secrets.token_bytes(32)  # unused by the dashboard's own cookie
    app.register_blueprint(
        create_blueprint(lambda: store, DashboardOptions(**options)), url_prefix=url_prefix
    )

    @app.get("/")
    def root() -> Any:
        return redirect(url_prefix + "/")

    return app
