"""The MongoDB sink: one document per event, inserted in unordered batches.

Documents use BSON's own types (a UTC ``datetime`` for ``time``, numbers as numbers, ``tags``
and ``fields`` as sub-documents) so they can be queried and aggregated without parsing. Each
document gets its ``_id`` when its batch is first written; a retry of the batch re-sends the
same ids, so documents that made it the first time are refused as duplicates instead of being
stored twice.

Indexes on ``time`` and on ``(name, time)`` are created once per connection; with ``ttl`` the
``time`` index is a TTL index and MongoDB deletes events older than that by itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from lookout._internal import optional_dependency
from lookout.config import parse_duration
from lookout.events import Event
from lookout.sinks.base import BaseSink, BatchMemo, InvalidData, PermanentWriteError

with optional_dependency("mongo", "the MongoDB sink"):
    import bson
    import pymongo
    from pymongo.errors import BulkWriteError, OperationFailure

DUPLICATE_KEY = 11000
#: Server error codes that retrying cannot fix: wrong credentials, missing privileges.
AUTH_ERRORS = frozenset({13, 18})
TIME_INDEX = "lookout_time"
NAME_TIME_INDEX = "lookout_name_time"


def safe_key(key: str) -> str:
    """A key MongoDB stores and queries without surprises: no dots, no leading ``$``, no NUL.

    Dots and dollars become their full-width forms (the usual convention), so they stay
    readable and distinct from real nesting.
    """
    if "." in key or key.startswith("$") or "\x00" in key:
        key = key.replace("\x00", "").replace(".", "\uff0e")
        if key.startswith("$"):
            key = "\uff04" + key[1:]
    return key


def _safe_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {safe_key(str(k)): _safe_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_value(item) for item in value]
    return value


def mongo_document(event: Event) -> dict[str, Any]:
    """The event as a BSON-ready document; empty optional fields are left out."""
    document: dict[str, Any] = {
        "time": dt.datetime.fromtimestamp(event.start_ns / 1e9, dt.timezone.utc),
        "start_ns": bson.Int64(event.start_ns),  # BSON dates keep milliseconds only
        "kind": event.kind,
        "name": event.name,
        "duration_ms": event.duration_ns / 1e6,
        "outcome": event.outcome,
        "host": event.host,
        "pid": event.pid,
    }
    for key in ("status", "app_version", "request_id", "group", "client_ip"):
        value = getattr(event, key)
        if value is not None:
            document[key] = value
    if event.tags:
        document["tags"] = {safe_key(k): v for k, v in event.tags.items()}
    if event.fields:
        document["fields"] = _safe_value(dict(event.fields))
    if event.error_type is not None:
        document["error"] = {
            "type": event.error_type,
            "message": event.error_message,
            "traceback": event.traceback,
        }
    return document


def _written_before(error: Mapping[str, Any]) -> bool:
    """A duplicate ``_id``: our ids are fresh per batch, so an earlier attempt stored it.

    A duplicate on any other unique index is a real refusal.
    """
    if error.get("code") != DUPLICATE_KEY:
        return False
    key_pattern = error.get("keyPattern")
    if key_pattern is not None:
        return dict(key_pattern) == {"_id": 1}
    return " index: _id_ " in str(error.get("errmsg", ""))


class MongoSink(BaseSink):
    """Inserts events into a MongoDB collection.

    Args:
        uri: a MongoDB connection string (credentials, replica set, TLS options included).
        database: the database name.
        collection: the collection name.
        ttl: keep events this long (seconds or a duration like ``"30d"``) through a TTL index;
            None keeps them until deleted (and removes a TTL an earlier setting made).
        client: a ``pymongo.MongoClient`` to use instead of one made from ``uri``.
        timeout: seconds to find a server and to wait for a write.
    """

    name = "mongo"

    def __init__(
        self,
        uri: str = "mongodb://127.0.0.1:27017",
        *,
        database: str = "lookout",
        collection: str = "events",
        ttl: float | str | None = None,
        client: Any = None,
        timeout: float = 10.0,
    ) -> None:
        self.uri = uri
        self.database = database
        self.collection_name = collection
        self.ttl = None if ttl is None else int(parse_duration(ttl))
        self.timeout = timeout
        self._given_client = client
        self._client: Any = client
        self._indexed = False
        self._documents: BatchMemo[list[dict[str, Any]]] = BatchMemo(self._make_documents)

    @staticmethod
    def _make_documents(batch: Sequence[Event]) -> list[dict[str, Any]]:
        documents = []
        for event in batch:
            document = mongo_document(event)
            document["_id"] = bson.ObjectId()
            documents.append(document)
        return documents

    def _collection(self) -> Any:
        if self._client is None:
            milliseconds = int(self.timeout * 1000)
            self._client = pymongo.MongoClient(
                self.uri,
                serverSelectionTimeoutMS=milliseconds,
                connectTimeoutMS=milliseconds,
                socketTimeoutMS=milliseconds,
                appname="lookout",
            )
        collection = self._client[self.database][self.collection_name]
        if not self._indexed:
            self._ensure_indexes(collection)
            self._indexed = True
        return collection

    def _ensure_indexes(self, collection: Any) -> None:
        """Create the indexes, replacing a ``time`` index whose TTL differs from ``ttl``."""
        existing: Mapping[str, Any] = collection.index_information()
        wanted = {} if self.ttl is None else {"expireAfterSeconds": self.ttl}
        current = existing.get(TIME_INDEX)
        if current is not None and current.get("expireAfterSeconds") != wanted.get(
            "expireAfterSeconds"
        ):
            collection.drop_index(TIME_INDEX)
            current = None
        if current is None:
            collection.create_index([("time", pymongo.ASCENDING)], name=TIME_INDEX, **wanted)
        if NAME_TIME_INDEX not in existing:
            collection.create_index(
                [("name", pymongo.ASCENDING), ("time", pymongo.ASCENDING)], name=NAME_TIME_INDEX
            )

    def write(self, batch: Sequence[Event]) -> None:
        documents = self._documents.get(batch)
        try:
            self._collection().insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            refused = [
                error for error in exc.details.get("writeErrors", []) if not _written_before(error)
            ]
            if refused:
                raise InvalidData(
                    f"MongoDB refused {len(refused)} of {len(documents)} documents: "
                    f"{refused[0].get('errmsg', '')[:200]}",
                    rejected=len(refused),
                ) from exc
        except OperationFailure as exc:
            if exc.code in AUTH_ERRORS:
                raise PermanentWriteError(f"MongoDB: {exc}") from exc
            raise

    def after_fork(self) -> None:
        # A MongoClient must not cross a fork (pymongo's rule); the child opens its own.
        self._client = self._given_client
        self._indexed = False

    def close(self) -> None:
        if self._client is not None and self._given_client is None:
            self._client.close()
            self._client = None

    def check(self) -> str:
        collection = self._collection()
        probe = {"_id": bson.ObjectId(), "kind": "message", "name": "lookout.check"}
        collection.insert_one(probe)
        collection.delete_one({"_id": probe["_id"]})
        return (
            f"{self.database}.{self.collection_name}: reachable, authenticated, writable "
            f"(indexes {TIME_INDEX}, {NAME_TIME_INDEX}"
            f"{'' if self.ttl is None else f', TTL {self.ttl}s'})"
        )
