"""Flask-Chest's README example, moved to Lookout by changing one import.

Run it::

    pip install 'lookout[flask]'
    python examples/migrating/flask_chest_app.py      # http://127.0.0.1:5000/
    curl http://127.0.0.1:5000/ && curl -X POST -d data=hello http://127.0.0.1:5000/
    sqlite3 chest.sqlite3 'SELECT request_id, name, value FROM flask_chest'

The README's chests are InfluxDB and a custom HTTP writer; this example writes Flask-Chest's
own SQLite table (``CHEST_DB``, default ``chest.sqlite3``) so it runs without a server. Swap in
``FlaskChestInfluxDB(...)`` or ``FlaskChestCustomWriter(...)`` exactly as the README shows.
"""

from __future__ import annotations

import os
import time
from datetime import datetime

from flask import Flask, g, request

# before: from flask_chest import flask_chest (and the chests from their modules)
from lookout.compat.flask_chest import FlaskChestSQLite, flask_chest

app = Flask(__name__)
chest_sqlite = FlaskChestSQLite(app=app, db_uri=os.environ.get("CHEST_DB", "chest.sqlite3"))


def custom_request_id_generator() -> str:
    now = datetime.now()
    return now.strftime("%Y%m%d%H%M%S%f")


# Define tracked global context variables
route_tracked_vars = {
    "GET": ["user_id", "session_id", "total_time"],
    "POST": ["user_id", "data"],
}


@app.route("/", methods=["GET", "POST"])
@flask_chest(
    chests=[chest_sqlite],
    tracked_vars=route_tracked_vars,
    request_id_generator=custom_request_id_generator,
    raise_exceptions=False,
)
def index() -> str:
    if request.method == "GET":
        g.start = time.time()
        g.user_id = "123"
        g.session_id = "abc"
        time.sleep(0.1)  # Simulate a delay
        g.total_time = time.time() - g.start
    else:
        g.user_id = "123"
        g.data = request.form.get("data", "")
    return "Hello, World!"


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "5000")))
