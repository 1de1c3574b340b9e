"""One bad event never costs another: on every sink, in batches of 1, 2, 1,000 and 10,000.

Each batch carries one poisoned event among clean ones. Poisons a destination cannot hold but
Lookout can make safe (a lone surrogate, a NUL, an unencodable tag, a ``__repr__`` that raises)
are made safe and written with the rest. A poison the destination refuses even then (an
integer out of its range, a body its schema check refuses, an Influx field type conflict) is
found by splitting the batch: exactly that event is counted ``invalid``, every other one is
written, and nothing waits for a retry. Events are built as raw ``Event`` tuples, the way an
integration's fast path builds them, so the sink-side safety net is what is under test (events
from ``make_event`` are made safe earlier still).
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from lookout import Lookout
from lookout.events import Event
from lookout.sinks.base import Sink
from tests.faults.servers import Endpoint

SIZES = (1, 2, 1000, 10_000)
SAFE_POISONS = ("surrogate", "nul", "tag", "repr")
_seq = itertools.count()


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def clean_event(seq: int) -> Event:
    return Event("call", "shop.clean", time.time_ns(), 1000 + seq, fields={"seq": seq, "v": 1.0})


def poisoned_event(seq: int, poison: str, refused: Callable[[int], Event]) -> Event:
    bad = os.fsdecode(b"report-\xff.csv")  # a lone surrogate, as a non-UTF-8 file name gives
    if poison == "surrogate":
        return Event("call", bad, time.time_ns(), 5, fields={"seq": seq, "path": bad, "v": 1.0})
    if poison == "nul":
        return Event(
            "call",
            "shop.\x00nul",
            time.time_ns(),
            5,
            group="a\x00b",
            error_message="bad\x00byte",
            fields={"seq": seq, "q": "x\x00y", "v": 1.0},
        )
    if poison == "tag":
        return Event("call", "shop.tag", time.time_ns(), 5, tags={bad: bad}, fields={"seq": seq})
    if poison == "repr":
        return Event("call", "shop.repr", time.time_ns(), 5, fields={"seq": seq, "o": BadRepr()})
    return refused(seq)


class Destination:
    """A sink, the poison it refuses, and how to read back the ``seq`` of what it stored."""

    sizes: tuple[int, ...] = SIZES

    def sink(self) -> Sink:
        raise NotImplementedError

    def refused(self, seq: int) -> Event:
        raise NotImplementedError

    def stored(self, lk: Lookout) -> list[int]:
        raise NotImplementedError


class SqlDestination(Destination):
    def __init__(self, url: str) -> None:
        self.url = url

    def sink(self) -> Sink:
        from lookout.sinks.sql import SqlSink

        return SqlSink(self.url)

    def refused(self, seq: int) -> Event:
        # a status beyond the column's integer range: no safe form of it exists
        return Event("call", "shop.huge", time.time_ns(), 5, status=2**70, fields={"seq": seq})

    def stored(self, lk: Lookout) -> list[int]:
        from lookout.store.schema import events

        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.select(events.c.fields)).scalars().all()
        finally:
            engine.dispose()
        return [json.loads(row)["seq"] for row in rows if row]


class HttpDestination(Destination):
    def __init__(self) -> None:
        self.endpoint = Endpoint()

    def sink(self) -> Sink:
        from lookout.sinks.http import HttpSink

        return HttpSink(self.endpoint.url)

    def refused(self, seq: int) -> Event:
        return Event("call", "shop.schema", time.time_ns(), 5, fields={"seq": seq, "poison": True})

    def stored(self, lk: Lookout) -> list[int]:
        return self.endpoint.seqs()


class MongoDestination(Destination):
    # The stand-in server writes about 1,000 documents a second: 10,000 would take minutes.
    sizes = (1, 2, 1000)

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.collection = f"poison_{uuid.uuid4().hex[:8]}"

    def sink(self) -> Sink:
        from lookout.sinks.mongo import MongoSink

        return MongoSink(self.uri, database="lookout_faults", collection=self.collection)

    def refused(self, seq: int) -> Event:
        # BSON holds integers of 8 bytes at most
        return Event("call", "shop.huge", time.time_ns(), 5, fields={"seq": seq, "n": 2**70})

    def stored(self, lk: Lookout) -> list[int]:
        import pymongo

        client: Any = pymongo.MongoClient(self.uri)
        try:
            found = client.lookout_faults[self.collection].find({}, {"fields.seq": 1})
            return [int(doc["fields"]["seq"]) for doc in found]
        finally:
            client.close()


class InfluxDestination(Destination):
    def __init__(self, server: Any) -> None:
        self.server = server
        self.database = f"poison_{uuid.uuid4().hex[:8]}"
        server.query(f'CREATE DATABASE "{self.database}"')

    def sink(self) -> Sink:
        from lookout.sinks.influx import InfluxSink

        return InfluxSink(self.server.url, database=self.database)

    def refused(self, seq: int) -> Event:
        # every other event has a float ``v``: a string is a field type conflict
        return Event("call", "shop.clean", time.time_ns(), 5, fields={"seq": seq, "v": "text"})

    def stored(self, lk: Lookout) -> list[int]:
        series = self.server.query("SELECT seq FROM lookout_call", self.database)
        return [int(values[1]) for s in series for values in s["values"]]


@pytest.fixture(params=["sqlite", "postgresql", "mysql", "http", "mongo", "influx"])
def destination(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Destination]:
    kind = request.param
    if kind == "sqlite":
        yield SqlDestination(f"sqlite:///{tmp_path / 'poison.db'}")
    elif kind in ("postgresql", "mysql"):
        from tests.conftest import _empty

        fixture = "postgres_database" if kind == "postgresql" else "mysql_database"
        yield SqlDestination(_empty(request.getfixturevalue(fixture)))
    elif kind == "http":
        http = HttpDestination()
        yield http
        http.endpoint.stop()
    elif kind == "mongo":
        yield MongoDestination(request.getfixturevalue("mongo_uri"))
    else:
        yield InfluxDestination(request.getfixturevalue("influx_server"))


@pytest.mark.timeout(120)
def test_one_poisoned_event_in_a_batch_costs_no_other_event(destination: Destination) -> None:
    largest = max(destination.sizes)
    lk = Lookout(
        store=None,
        sinks=[destination.sink()],
        batch_size=largest,
        batch_interval=60,  # only flush() cuts a batch: each batch is exactly what was emitted
        sink_queue_size=2 * largest,
        queue_size=2 * largest,
        max_retries=3,
        retry_backoff=5,  # a refusal for the data that were retried would show as a stall
    )
    (name,) = lk.stats()["sinks"]
    expected: list[int] = []
    refused: list[int] = []
    if isinstance(destination, InfluxDestination):  # ``v`` is a float field from here on
        seq = next(_seq)
        lk.emit(clean_event(seq))
        expected.append(seq)
        assert lk.flush(10)
    try:
        for size in destination.sizes:
            # 10,000-event batches with two of the poisons only, to keep the suite's time down
            poisons = (*SAFE_POISONS, "refused") if size < 10_000 else ("nul", "refused")
            for poison in poisons:
                seqs = [next(_seq) for _ in range(size)]
                bad_at = len(seqs) // 2
                for index, seq in enumerate(seqs):
                    if index == bad_at:
                        event = poisoned_event(seq, poison, destination.refused)
                    else:
                        event = clean_event(seq)
                    assert lk.emit(event)
                assert lk.flush(60), (size, poison)  # retried == 0 below: no backoff stall
                if poison == "refused":
                    refused.append(seqs[bad_at])
                    expected.extend(seq for seq in seqs if seq != seqs[bad_at])
                else:
                    expected.extend(seqs)
                stats = lk.stats()["sinks"][name]
                assert (stats["written"], stats["invalid"]) == (len(expected), len(refused)), (
                    size,
                    poison,
                    stats,
                )
                assert (stats["failed"], stats["dropped"], stats["retried"]) == (0, 0, 0)
    finally:
        lk.close()
    assert sorted(destination.stored(lk)) == sorted(expected)
    assert stats["last_invalid"]
