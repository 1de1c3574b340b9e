"""The MongoDB sink against a MongoDB wire-protocol server on 127.0.0.1 (SecantusDB; see
tests/sinks/conftest.py for why not mongod)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

pymongo = pytest.importorskip("pymongo")
from pymongo import monitoring  # noqa: E402

from lookout import Lookout, make_event  # noqa: E402
from lookout.sinks.mongo import MongoSink  # noqa: E402
from lookout.sinks.registry import build_sink  # noqa: E402


class InsertCounter(monitoring.CommandListener):
    """Counts the ``insert`` commands pymongo sends: one per batch is the point of batching."""

    def __init__(self) -> None:
        self.inserts: list[int] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert":
            self.inserts.append(len(event.command.get("documents", [])))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _collection_name() -> str:
    return f"events_{uuid.uuid4().hex[:8]}"


def _lookout(sink: MongoSink, **options: Any) -> Lookout:
    settings: dict[str, Any] = {"batch_interval": 0.01, "retry_backoff": 0.01}
    settings.update(options)
    return Lookout(store=None, sinks=[sink], app_version="2.1", **settings)


def test_events_become_documents_with_native_types(mongo_uri: str) -> None:
    name = _collection_name()
    lk = _lookout(MongoSink(mongo_uri, database="lookout_test", collection=name))
    start_ns = 1_790_000_000_123_456_789
    lk.emit(
        make_event(
            "request",
            "shop.checkout",
            start_ns=start_ns,
            duration_ns=12_500_000,
            status=201,
            request_id="r-1",
            group="user-7",
            tags={"method": "POST"},
            fields={"cart": {"items": 3, "a.b": 1, "$where": "x"}, "password": "hunter2"},
        )
    )
    try:
        raise KeyError("sku")
    except KeyError as error:
        lk.emit(make_event("call", "shop.price", error=error))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["mongo"]
    lk.close()
    assert (stats["written"], stats["failed"]) == (2, 0)

    client: Any = pymongo.MongoClient(mongo_uri, tz_aware=True)
    collection = client.lookout_test[name]
    request = collection.find_one({"kind": "request"})
    assert request["time"] == dt.datetime(2026, 9, 21, 14, 13, 20, 123000, dt.timezone.utc)
    assert request["start_ns"] == start_ns
    assert request["duration_ms"] == 12.5
    assert (request["status"], request["request_id"], request["group"]) == (201, "r-1", "user-7")
    assert (request["app_version"], request["tags"]) == ("2.1", {"method": "POST"})
    assert request["fields"]["cart"] == {"items": 3, "a\uff0eb": 1, "\uff04where": "x"}
    assert request["fields"]["password"] == "hunter2"  # a value the user named is kept
    call = collection.find_one({"kind": "call"})
    assert call["outcome"] == "error" and call["error"]["type"] == "KeyError"
    assert "raise KeyError" in call["error"]["traceback"]
    assert "status" not in call  # empty optional fields are left out
    indexes = collection.index_information()
    assert indexes["lookout_time"]["key"] == [("time", 1)]
    assert indexes["lookout_name_time"]["key"] == [("name", 1), ("time", 1)]
    client.close()


def test_batches_are_one_insert_each_and_exact(mongo_uri: str) -> None:
    listener = InsertCounter()
    client: Any = pymongo.MongoClient(mongo_uri, event_listeners=[listener])
    name = _collection_name()
    lk = _lookout(
        MongoSink(database="lookout_test", collection=name, client=client),
        batch_size=100,
        batch_interval=5,
    )
    for n in range(1000):
        lk.emit(make_event("call", f"f{n % 7}", fields={"n": n}))
    assert lk.flush(20)
    lk.close()
    assert sum(listener.inserts) == 1000
    assert len(listener.inserts) <= 12  # batched (100 per insert), not one per event
    collection = client.lookout_test[name]
    assert collection.count_documents({}) == 1000
    grouped = {
        row["_id"]: row["n"]
        for row in collection.aggregate([{"$group": {"_id": "$name", "n": {"$sum": 1}}}])
    }
    assert grouped == {f"f{k}": len(range(k, 1000, 7)) for k in range(7)}
    client.close()


def test_a_retried_batch_is_not_stored_twice(mongo_uri: str) -> None:
    sink = MongoSink(mongo_uri, database="lookout_test", collection=_collection_name())
    batch = [make_event("call", "f", fields={"n": n}) for n in range(5)]
    sink.write(batch[:3])  # stands for an attempt whose answer was lost
    sink.write(batch)  # the Recorder retries with the same batch object...
    sink.write(batch)  # ...perhaps more than once
    collection = sink._collection()
    assert collection.count_documents({}) == 8  # 3 from the first list, 5 from the batch
    sink.close()


def test_documents_a_validator_refuses_are_counted_invalid_and_the_rest_written(
    mongo_uri: str,
) -> None:
    name = _collection_name()
    client: Any = pymongo.MongoClient(mongo_uri)
    client.lookout_test.create_collection(
        name,
        validator={
            "$jsonSchema": {"properties": {"duration_ms": {"bsonType": "double", "maximum": 100}}}
        },
    )
    lk = _lookout(MongoSink(mongo_uri, database="lookout_test", collection=name))
    for duration_ms in (1, 500, 2, 900):
        lk.emit(make_event("call", "f", duration_ns=duration_ms * 1_000_000))
    assert lk.flush(10)
    stats = lk.stats()["sinks"]["mongo"]
    lk.close()
    assert (stats["written"], stats["invalid"], stats["failed"], stats["retried"]) == (2, 2, 0, 0)
    assert "refused 2 of 4" in stats["last_error"]
    assert client.lookout_test[name].count_documents({}) == 2
    client.close()


def test_ttl_index_follows_the_setting(mongo_uri: str) -> None:
    name = _collection_name()

    def indexes(ttl: object) -> dict[str, Any]:
        sink = MongoSink(mongo_uri, database="lookout_test", collection=name, ttl=ttl)  # type: ignore[arg-type]
        sink.write([make_event("call", "f")])
        info: dict[str, Any] = sink._collection().index_information()
        sink.close()
        return info

    assert indexes("30d")["lookout_time"]["expireAfterSeconds"] == 30 * 86400
    assert indexes(3600)["lookout_time"]["expireAfterSeconds"] == 3600
    assert "expireAfterSeconds" not in indexes(None)["lookout_time"]


def test_server_down_is_retried_then_counted_failed() -> None:
    with pytest.raises(pymongo.errors.ServerSelectionTimeoutError):
        MongoSink("mongodb://127.0.0.1:1", timeout=0.3).check()
    lk = _lookout(
        MongoSink("mongodb://127.0.0.1:1", timeout=0.3), max_retries=1, retry_backoff=0.01
    )
    lk.emit(make_event("call", "f"))
    lk.flush(20)
    stats = lk.stats()["sinks"]["mongo"]
    lk.close()
    assert (stats["written"], stats["failed"], stats["retried"]) == (0, 1, 1)
    assert "ServerSelectionTimeoutError" in stats["last_error"]


def test_check_and_configuration_by_table(mongo_uri: str) -> None:
    sink = build_sink({"type": "mongo", "uri": mongo_uri, "database": "lookout_test", "ttl": "7d"})
    assert isinstance(sink, MongoSink)
    report = sink.check()
    assert "writable" in report and "TTL 604800s" in report
    sink.close()
    with pytest.raises(ValueError, match="unknown option 'colection'"):
        build_sink({"type": "mongo", "colection": "x"})
