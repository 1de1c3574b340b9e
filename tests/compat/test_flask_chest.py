"""Flask-Chest's README example, changed only in its import line, and every chest against its
server: SQLite, PostgreSQL, MariaDB (key-value rows), the MongoDB-compatible server
(documents), an InfluxDB 2.x stand-in at the HTTP level (points with custom tags) and a custom
HTTP writer."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g, request

from lookout.compat.flask_chest import (
    FlaskChestCustomWriter,
    FlaskChestInfluxDB,
    FlaskChestMongoDB,
    FlaskChestPostgreSQL,
    FlaskChestSQLite,
    flask_chest,
)
from tests.receivers import Receiver


def cust_payload_generator(context_tuple_list: list[tuple[str, Any, str]]) -> dict[int, Any]:
    payload = {}
    for i, context_tuple in enumerate(context_tuple_list):
        payload[i] = context_tuple
    return payload


def custom_request_id_generator() -> str:
    now = datetime.now()
    return now.strftime("%Y%m%d%H%M%S%f")


def test_readme_example_influxdb_and_custom_writer(tmp_path: Path) -> None:
    influx, writer = Receiver(), Receiver()
    influx.plan = [(204, {})] * 10
    app = Flask(__name__)
    logger = logging.getLogger("flask_chest_example")
    logger.setLevel(logging.DEBUG)
    file_handler = logging.FileHandler(tmp_path / "app.log")
    logger.addHandler(file_handler)
    try:
        influx_port = int(influx.url.rsplit(":", 1)[1].split("/")[0])
        writer_port = writer.url.rsplit(":", 1)[1].split("/")[0]
        # -- from the README, unchanged but for the hosts and ports of the local servers --
        chest_influxdb = FlaskChestInfluxDB(
            app=app,
            https=False,
            host="127.0.0.1",
            port=influx_port,
            token="my-token",
            org="my-org",
            bucket="my-bucket",
            custom_tags={"app": "your-app-name"},
            logger=logger,
        )
        chest_signalfx = FlaskChestCustomWriter(
            app=app,
            https=False,
            host="127.0.0.1",
            port=writer_port,
            headers=None,
            payload_generator=cust_payload_generator,
            verify=False,
            success_status_codes=[200],
            logger=logger,
        )
        route_tracked_vars = {
            "GET": ["user_id", "session_id", "total_time"],
            "POST": ["user_id", "data"],
        }

        @app.route("/", methods=["GET", "POST"])
        @flask_chest(
            chests=[chest_influxdb, chest_signalfx],
            tracked_vars=route_tracked_vars,
            request_id_generator=custom_request_id_generator,
            raise_exceptions=False,
        )
        def index() -> str:
            if request.method == "GET":
                g.start = time.time()
                g.user_id = "123"
                g.session_id = "abc"
                time.sleep(0.01)
                g.total_time = time.time() - g.start
            else:
                g.user_id, g.data = "456", {"items": [1, 2]}
            return "Hello, World!"

        # -- end of the README's code --
        client = app.test_client()
        assert client.get("/").get_data(as_text=True) == "Hello, World!"
        assert client.post("/").status_code == 200
        assert chest_influxdb.flush(10) and chest_signalfx.flush(10)
        lines = b"\n".join(r["body"] for r in influx.requests).decode().splitlines()  # type: ignore[misc]
        assert (
            influx.requests[0]["path"] == "/api/v2/write?org=my-org&bucket=my-bucket&precision=ns"
        )
        assert influx.requests[0]["headers"]["Authorization"] == "Token my-token"  # type: ignore[index]
        # Flask-Chest's points: one per variable, measured under its name, field "value"
        points = [(line.split(" ", 1)[0], line.split(" ", 1)[1].rsplit(" ", 1)) for line in lines]
        heads = [head.split(",") for head, _ in points]
        assert [h[0] for h in heads] == ["user_id", "session_id", "total_time", "user_id", "data"]
        assert all(h[1] == "app=your-app-name" and h[2].startswith("request_id=") for h in heads)
        values = [value for _, (value, _) in points]
        assert values[0] == 'value="123"' and values[1] == 'value="abc"'  # as given
        assert values[2].startswith("value=0.0")
        assert values[4] == 'value="{\\"items\\": [1, 2]}"'  # JSON text
        # requests' data=dict: form-encoded, each tuple's items under its index
        forms = [urllib.parse.parse_qs(r["body"].decode()) for r in writer.requests]  # type: ignore[attr-defined]
        assert writer.requests[0]["headers"]["Content-Type"] == (  # type: ignore[index]
            "application/x-www-form-urlencoded"
        )
        tuples = [tuple(items) for form in forms for items in form.values()]
        names = sorted(name for name, _, _ in tuples)
        assert names == ["data", "session_id", "total_time", "user_id", "user_id"]
        request_ids = {rid for _, _, rid in tuples}
        assert len(request_ids) == 2 and all(
            len(rid) == 20 and rid.isdigit() for rid in request_ids
        )
        assert "flask_chest: wrote" in (tmp_path / "app.log").read_text()
    finally:
        influx.stop()
        writer.stop()
        logger.removeHandler(file_handler)
        file_handler.close()


def _sql_chest(kind: str, url: str) -> Any:
    from lookout.compat.flask_chest import FlaskChestMySQL, FlaskChestPostgreSQL

    if kind == "sqlite":
        return FlaskChestSQLite(db_uri=url)
    parsed = sa.engine.make_url(url)
    options = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "database": parsed.database,
    }
    return (FlaskChestPostgreSQL if kind == "postgresql" else FlaskChestMySQL)(**options)


def test_sqlite_chest_writes_flask_chest_s_own_table(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "db.sqlite3"
    chest = FlaskChestSQLite(db_uri=str(path))
    app = Flask("chested")

    @app.get("/orders/<int:order>")
    @flask_chest(chests=[chest], tracked_vars={"get": ["order_id", "total", "note"]})
    def order(order: int) -> str:
        g.order_id, g.total, g.note = order, 12.5, "é" * 70_000  # whole, as the original
        return "ok"

    app.test_client().get("/orders/7")  # raise_exceptions=True: written before the response
    with sqlite3.connect(path) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(flask_chest)")]
        rows = connection.execute(
            "SELECT request_id, name, value, typeof(value) FROM flask_chest ORDER BY unique_id"
        ).fetchall()
    chest.close()
    assert columns == ["unique_id", "request_id", "name", "value"]
    assert [(name, value, kind) for _, name, value, kind in rows] == [
        ("order_id", "7", "text"),  # TEXT affinity, as sqlite3 stored the original's int
        ("total", "12.5", "text"),
        ("note", "é" * 70_000, "text"),
    ]
    assert len({rid for rid, *_ in rows}) == 1 and len(rows[0][0]) == 36  # a uuid4


def test_sql_chests_write_key_value_rows(store_url: str) -> None:
    kind = sa.engine.make_url(store_url).get_backend_name()
    if kind == "sqlite":
        pytest.skip("the SQLite chest has Flask-Chest's own table (the test above)")
    chest = _sql_chest(kind, store_url)
    app = Flask("chested")

    @app.get("/orders/<int:order>")
    @flask_chest(chests=[chest], tracked_vars=None)  # None: every public g variable
    def order(order: int) -> str:
        g.order_id, g.total, g._private = order, {"eur": 12.5}, "hidden"
        return "ok"

    client = app.test_client()
    for number in (1, 2):
        client.get(f"/orders/{number}")
    assert chest.flush(20)
    engine = sa.create_engine(store_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT request_id, variable_name, variable_value, endpoint, method "
                "FROM flask_chest ORDER BY id"
            )
        ).all()
    engine.dispose()
    chest.close()
    assert [(r.variable_name, json.loads(r.variable_value)) for r in rows] == [
        ("order_id", 1),
        ("total", {"eur": 12.5}),
        ("order_id", 2),
        ("total", {"eur": 12.5}),
    ]
    assert {(r.endpoint, r.method) for r in rows} == {("order", "GET")}
    assert len({r.request_id for r in rows}) == 2


def test_mongodb_chest_writes_documents(mongo_uri: str) -> None:
    import pymongo

    host, port = mongo_uri.split("//")[1].rstrip("/").split(":")
    chest = FlaskChestMongoDB(host=host, port=int(port), database="chest_test", collection="values")
    app = Flask("mongo-chested")

    @app.post("/signup")
    @flask_chest(chests=[chest], tracked_vars={"POST": ["email", "plan"]})
    def signup() -> str:
        g.email, g.plan, g.other = "a@example.org", "pro", "not tracked"
        return "ok"

    app.test_client().post("/signup")
    assert chest.flush(20)
    client: Any = pymongo.MongoClient(mongo_uri)
    documents = list(client.chest_test["values"].find({}, {"_id": 0, "time": 0}))
    client.close()
    chest.close()
    assert sorted((d["variable_name"], d["variable_value"]) for d in documents) == [
        ("email", "a@example.org"),
        ("plan", "pro"),
    ]
    assert documents[0]["endpoint"] == "signup" and documents[0]["method"] == "POST"


def test_a_failing_id_generator_raises_as_in_the_original(tmp_path: Path) -> None:
    chest = FlaskChestSQLite(db_uri=str(tmp_path / "chest.db"))
    app = Flask("strict")

    def broken() -> str:
        raise RuntimeError("no ids today")

    @app.get("/lenient")
    @flask_chest(
        chests=[chest], tracked_vars=["x"], request_id_generator=broken, raise_exceptions=False
    )
    def lenient() -> str:
        g.x = 1
        return "ok"

    app.testing = True
    with pytest.raises(RuntimeError, match="no ids today"):  # made before the view, unguarded
        app.test_client().get("/lenient")
    chest.close()


def test_raise_exceptions_true_writes_before_the_response_and_raises(receiver: Receiver) -> None:
    from lookout.compat.flask_chest import FlaskChestError

    receiver.plan = [(503, {}), (503, {})]  # the backend is down for two requests
    port = receiver.url.rsplit(":", 1)[1].split("/")[0]
    strict = FlaskChestCustomWriter(host="127.0.0.1", port=port, payload_generator=str)
    lenient = FlaskChestPostgreSQL(host="127.0.0.1", port=1, database="nowhere")  # unreachable
    app = Flask("raising")

    @app.get("/strict")
    @flask_chest(chests=[strict], tracked_vars=["x"])
    def strict_view() -> str:
        g.x = 1
        return "ok"

    @app.get("/lenient")
    @flask_chest(chests=[lenient], tracked_vars=["x"], raise_exceptions=False)
    def lenient_view() -> str:
        g.x = 1
        return "ok"

    client = app.test_client()
    assert client.get("/strict").status_code == 500  # the chest's error, out of the view
    app.testing = True
    with pytest.raises(FlaskChestError, match="503"):
        client.get("/strict")
    app.testing = False
    assert client.get("/strict").status_code == 200
    assert len(receiver.requests) == 3  # each written in the request, none queued
    assert client.get("/lenient").get_data(as_text=True) == "ok"  # queued, never raised
    strict.close()
    lenient.close()


def test_influxdb_chest_without_a_token_writes_to_a_server_that_needs_none(
    influx_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.delenv("INFLUXDB_TOKEN", raising=False)
    influx_server.query('CREATE DATABASE "my-bucket"')
    host, port = influx_server.url.rsplit("/", 1)[1].split(":")
    app = Flask(__name__)
    chest_influxdb = FlaskChestInfluxDB(  # the README's call, with INFLUXDB_TOKEN unset
        app=app,
        https=False,
        host=host,
        port=int(port),
        token=os.getenv("INFLUXDB_TOKEN"),
        org="my-org",
        bucket="my-bucket",
        custom_tags={"app": "your-app-name"},
    )

    @app.get("/")
    @flask_chest(chests=[chest_influxdb], tracked_vars={"GET": ["user_id", "total_time"]})
    def index() -> str:
        g.user_id, g.total_time = "123", 0.25
        return "Hello, World!"

    assert app.test_client().get("/").status_code == 200  # written in the request
    [series] = influx_server.query('SELECT * FROM "user_id"', database="my-bucket")
    assert series["columns"] == ["time", "app", "request_id", "value"]
    [[_, app_tag, request_id, value]] = series["values"]
    assert (app_tag, value) == ("your-app-name", "123") and len(request_id) == 36
    [series] = influx_server.query('SELECT "value" FROM "total_time"', database="my-bucket")
    assert series["values"][0][1] == 0.25
    chest_influxdb.close()
