"""Flask-MonitoringDashboard's README example, moved to Lookout by changing one import.

Run it::

    pip install 'lookout[flask]'
    python examples/migrating/fmd_app.py    # http://127.0.0.1:5000/, dashboard at /dashboard

The configuration is FMD's file: the one named by ``DASHBOARD_CONFIG``, else ``fmd_config.cfg``
next to this script. Log in with the file's
``USERNAME``/``PASSWORD``; ``GUEST_USERNAME``/``GUEST_PASSWORD`` are read-only logins.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from flask import Flask, abort

# before: import flask_monitoringdashboard as dashboard
from lookout.compat import dashboard

app = Flask(__name__)
# FMD 5's form. (With init_from(envvar="DASHBOARD_CONFIG") an unset variable means no file at
# all, in FMD and here alike: this example falls back to the file next to it instead.)
dashboard.config.init_from(
    file=os.environ.get("DASHBOARD_CONFIG", str(Path(__file__).with_name("fmd_config.cfg")))
)
dashboard.bind(app)


@app.route("/")
def index() -> str:
    time.sleep(random.uniform(0.001, 0.003))
    return "Hello, World!"


@app.route("/orders/<int:order_id>")
def order(order_id: int) -> dict[str, int]:
    if order_id > 100:
        abort(404)
    return {"order": order_id}


@app.route("/report")
def report() -> str:
    time.sleep(random.uniform(0.02, 0.04))  # the slow endpoint the dashboard points out
    return "a long report"


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "5000")))
