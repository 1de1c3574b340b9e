"""The disk spool on real files: records round-trip exactly, are replayed once, are taken over
only from processes that are gone, and a torn tail is cut off."""

from __future__ import annotations

import os
from pathlib import Path

from lookout.events import Event
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
    events.append(("request", "GET /", 1.5, None, base))  # a portable item
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
    assert spool.stats()["depth"] == 7 and spool.stats()["spooled"] == 7
    reference, items = spool.peek()  # type: ignore[misc]
    assert items == first  # Events with their dicts, big integers, surrogates; tuples as tuples
    spool.done(reference)
    spool.done(reference)  # twice is once
    reference, items = spool.peek()  # type: ignore[misc]
    assert items == second
    spool.done(reference)
    assert spool.peek() is None
    assert spool.stats() | {"bytes": 0} == {
        "depth": 0,
        "bytes": 0,
        "spooled": 7,
        "replayed": 7,
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
    assert (heir.stats()["depth"], rival.stats()["depth"]) == (5, 0)  # one of them, not both
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
    assert successor.stats()["depth"] == 3
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
    assert (heir.stats()["depth"], heir.stats()["corrupt"]) == (3, 1)
    _, items = heir.peek()  # type: ignore[misc]
    assert items == _batch(2)
    heir.close()


def test_a_full_spool_counts_its_overflow(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", max_bytes=2000, fsync="off")
    assert spool.append(_batch(2))
    assert not spool.append(_batch(50))
    assert spool.stats()["overflow"] == 51 and spool.stats()["depth"] == 3
    spool.close()
