"""The disk spool on real files: records round-trip exactly, are replayed once, are taken over
only from processes that are gone, and a torn tail is cut off."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lookout.events import HOSTNAME, Event
from lookout.spool import Spool


def _batch(n: int, base: int = 0) -> list[object]:
    events: list[object] = [
        Event(
            "call",
            f"f{i}",
            1_790_000_000_000_000_000 + i,
            1000 + i,
            tags={"t": "v"},
            fields={"seq": base + i, "big": 2**70, "s": "\udcff"},
        )
        for i in range(n)
    ]
    return events


def _crash(spool: Spool) -> None:
    """What the kernel does when the owning process dies: its descriptors (and locks) go."""
    for segment in spool._segments:
        os.close(segment.fd)
    spool._segments = []


def test_records_round_trip_and_are_replayed_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    first, second = _batch(3), _batch(2, base=10)
    assert spool.append(first) and spool.append(second)
    assert spool.stats()["depth"] == 5 and spool.stats()["spooled"] == 5
    reference, items = spool.peek()  # type: ignore[misc]
    assert items == first  # Events with their dicts, big integers, surrogates
    spool.done(reference)
    spool.done(reference)  # twice is once
    reference, items = spool.peek()  # type: ignore[misc]
    assert items == second
    spool.done(reference)
    assert spool.peek() is None
    assert spool.stats() | {"bytes": 0} == {
        "depth": 0,
        "bytes": 0,
        "spooled": 5,
        "replayed": 5,
        "overflow": 0,
        "corrupt": 0,
    }
    spool.close()
    assert not (tmp_path / "s").exists()  # nothing left: nothing kept


def test_a_live_owners_segment_is_never_taken_and_a_dead_ones_is_taken_once(
    tmp_path: Path,
) -> None:
    owner = Spool(tmp_path / "s")
    assert owner.append(_batch(4))
    other = Spool(tmp_path / "s")  # another process's spool, say: the owner still holds a lock
    assert other.stats()["depth"] == 0
    _crash(owner)
    heir, rival = Spool(tmp_path / "s"), Spool(tmp_path / "s")
    assert (heir.stats()["depth"], rival.stats()["depth"]) == (4, 0)  # one of them, not both
    reference, items = heir.peek()  # type: ignore[misc]
    assert items == _batch(4)
    heir.done(reference)
    assert list((tmp_path / "s").glob("*.seg")) == []  # replayed and deleted
    for spool in (other, heir, rival):
        spool.close()


def test_left_records_are_replayed_by_the_next_spool_after_a_clean_close(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.append(_batch(2))
    spool.close()
    successor = Spool(tmp_path / "s")
    assert successor.stats()["depth"] == 2
    successor.close()


def test_a_torn_tail_is_cut_off_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.append(_batch(2))
    spool.append(_batch(5))
    (path,) = (tmp_path / "s").glob("*.seg")
    size = path.stat().st_size
    _crash(spool)
    with path.open("r+b") as handle:
        handle.truncate(size - 10)  # the second record half written
    heir = Spool(tmp_path / "s")
    assert (heir.stats()["depth"], heir.stats()["corrupt"]) == (2, 1)
    _, items = heir.peek()  # type: ignore[misc]
    assert items == _batch(2)
    heir.close()


def test_a_full_spool_counts_its_overflow(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", max_bytes=2000, fsync="off")
    assert spool.append(_batch(2))
    assert not spool.append(_batch(50))
    assert spool.stats()["overflow"] == 50 and spool.stats()["depth"] == 2
    spool.close()


def test_a_plain_request_spooled_by_an_earlier_build_comes_back_as_its_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier builds spooled plain requests as tuples of their own (``["t", "request", ...]``)
    beside Events: a spool left behind by one is replayed whole, each as the Event it was."""
    from lookout import spool as spool_module

    stored_before = (
        "request", 1_790_000_000_000_000_000, 2_500_000, "home", 503, "rid-1", "ada",
        "10.0.0.1", 4242, "1.2", "GET", "/home", "/home", 12, "Mozilla/5.0 (X11; Linux) Firefox/120.0",
    )  # fmt: skip
    call = _batch(1)[0]

    def earlier_encode(items: list[object]) -> bytes:
        rows = [["e", *item] if type(item) is Event else ["t", *item] for item in items]  # type: ignore[misc]
        return json.dumps(rows, separators=(",", ":")).encode("ascii")

    spool = Spool(tmp_path / "s", fsync="off")
    monkeypatch.setattr(spool_module, "encode", earlier_encode)
    assert spool.append(
        [
            call,
            stored_before,
            (
                "request",
                *stored_before[1:3],
                None,
                200,
                "rid-2",
                None,
                None,
                1,
                None,
                "GET",
                "/x",
                None,
                None,
                None,
            ),
        ]
    )
    monkeypatch.undo()
    _, items = spool.peek()  # type: ignore[misc]
    assert items[0] == call
    request = items[1]
    assert type(request) is Event
    assert request[:12] == (
        "request", "home", 1_790_000_000_000_000_000, 2_500_000, "error", 503, HOSTNAME, 4242,
        "1.2", "rid-1", "ada", "10.0.0.1",
    )  # fmt: skip
    assert request.tags == {"method": "GET"}
    assert request.fields == {
        "method": "GET", "path": "/home", "rule": "/home", "response_bytes": 12,
        "user_agent": "Firefox",
    }  # fmt: skip
    unmatched = items[2]
    assert (unmatched.name, unmatched.outcome, unmatched.fields) == (
        "[unmatched]", "ok", {"method": "GET", "path": "/x"},
    )  # fmt: skip
