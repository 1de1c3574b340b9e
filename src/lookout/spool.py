"""A sink's disk spool: what it could not write now, kept on disk and written later, in order.

A directory per sink holds append-only segment files of checksummed records, one record per
batch. Each process appends to a segment of its own, locked (``flock``) from creation until the
process closes it or dies, so no other process touches it while it lives; at start and every
minute a spool takes over the unlocked segments it finds (a crashed process's, or one that closed
with records left) by locking them itself, so two processes never replay the same segment.

A record is a header (magic, state, length, CRC-32 of the payload) and the batch as JSON. A
record is replayed once: after the sink has written it, its state byte is overwritten ``D``
(done) in place; a segment whose records are all done is deleted. The only ways an event is
written twice are a crash between the sink's commit and that byte reaching the file (one
batch), and close() spooling a batch whose write hung and later succeeded. A torn record at a
segment's end (a crash mid-write) fails its checksum; it and what follows are counted
``corrupt`` and cut off.

``fsync`` decides when records reach the disk: ``"batch"`` (each append and each done mark),
a number of seconds (at most that often), or ``"off"``. A ``kill -9`` loses nothing already
written to a segment whatever the setting (the kernel has it); the setting is about power loss.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lookout.events import HOSTNAME, Event, bound_name

logger = logging.getLogger("lookout.spool")

MAGIC = b"LKS1"
PENDING = b"P"
DONE = b"D"
#: magic, state, 3 bytes padding, payload length, CRC-32 of the payload
HEADER = struct.Struct("<4sc3xII")
STATE_OFFSET = 4
SUFFIX = ".seg"
#: A segment is closed and a new one begun past this size, so that done ones can be deleted.
SEGMENT_BYTES = 8 * 1024 * 1024
#: How often a spool looks for segments left by processes that are gone.
CLAIM_EVERY_S = 60.0
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass
class _Segment:
    path: Path
    fd: int
    size: int = 0
    #: (offset of the record, its event count) of the records not replayed yet, in order
    pending: list[tuple[int, int]] = field(default_factory=list)
    active: bool = False


def default_directory(destination: str, name: str) -> Path:
    """Where a sink's spool lives unless configured: beside a SQLite file (``lookout.db`` ->
    ``lookout.db.spool``), else under ``$XDG_CACHE_HOME/lookout/spool`` (``~/.cache``), named
    after the sink and a hash of its destination, so the next process with the same settings
    finds it. None for an in-memory SQLite store (nothing would survive the process)."""
    import hashlib

    if destination.startswith("sqlite"):
        path = destination.split(":///", 1)[-1].split("?", 1)[0]
        return Path(path + ".spool")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(destination.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Path(cache, "lookout", "spool", f"{name}-{digest}")


def wants_spool(destination: str) -> bool:
    """False for destinations a spool cannot outlive (an in-memory SQLite database)."""
    return not (destination in ("sqlite://", "sqlite:///:memory:") or ":memory:" in destination)


def encode(items: Sequence[Any]) -> bytes:
    """A batch of Events as JSON, ``["e", *fields]`` each. ASCII-only JSON, so any string
    (even one a destination refused) survives the trip."""
    rows = [["e", *item] for item in items]
    return json.dumps(rows, separators=(",", ":"), default=repr).encode("ascii")


def decode(payload: bytes) -> list[Any]:
    """The Events of a record; a plain request spooled by an earlier build of Lookout (``["t",
    "request", ...]``, when requests reached the store by a road of their own) comes back as
    the Event it stood for, so a spool left by an upgraded process is replayed whole."""
    items: list[Any] = []
    for row in json.loads(payload):
        items.append(Event(*row[1:]) if row[0] == "e" else legacy_request_event(row[1:]))
    return items


def legacy_request_event(values: Sequence[Any]) -> Event:
    """The Event of a plain request as earlier builds spooled it: ``("request", start,
    duration, endpoint, status, request id, group, client IP, pid, app version, method, path,
    rule, response size, user agent)``."""
    from lookout.flask.request_events import UNMATCHED, outcome_of, request_fields

    kind, start, duration, endpoint, status, rid, group, ip, pid, version, *fields = values
    if kind != "request":
        raise ValueError(f"a spooled item of unknown kind {kind!r}")
    return Event(
        "request",
        bound_name(endpoint or UNMATCHED),
        int(start),
        int(duration),
        outcome_of(status, False),
        status,
        HOSTNAME,
        int(pid),
        version,
        rid,
        group,
        ip,
        {"method": fields[0]},
        request_fields(*fields),
    )


class Spool:
    """The spool of one sink in ``directory``.

    Args:
        directory: created if missing (mode 0700); one per sink and destination.
        max_bytes: most bytes of records kept; batches beyond are counted ``overflow``.
        fsync: ``"batch"``, ``"off"`` or seconds between fsyncs.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fsync: str | float = "batch",
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._last_sync = time.monotonic()
        self._next_claim = 0.0
        self.depth = self.bytes = self.spooled = self.replayed = self.overflow = 0
        self.corrupt = 0
        self.closed = False
        self.claim()

    # -- writing -----------------------------------------------------------------------------
    def append(self, items: Sequence[Any]) -> bool:
        """Add a batch as one record; False (and ``overflow`` counted) when over the cap."""
        return self.add(items) is not None

    def add(self, items: Sequence[Any]) -> Any:
        """:meth:`append` returning the record's reference for :meth:`done` (None when over
        the cap): close() spools a batch whose write hangs, and cancels the record if that
        write comes back written while the process lives."""
        if not items:
            return ()
        payload = encode(items)
        record = HEADER.pack(MAGIC, PENDING, len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if self.closed or self.bytes + len(record) > self.max_bytes:
                self.overflow += len(items)
                return None
            segment = self._active()
            offset = segment.size
            os.write(segment.fd, record)  # O_APPEND: one write per record
            segment.size += len(record)
            segment.pending.append((offset, len(items)))
            self.depth += len(items)
            self.bytes += len(record)
            self.spooled += len(items)
            self._maybe_sync(segment.fd)
        return (segment, offset)

    def _active(self) -> _Segment:
        if self._segments and self._segments[-1].active:
            segment = self._segments[-1]
            if segment.size < SEGMENT_BYTES:
                return segment
            segment.active = False
            self._forget_if_done(segment)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        path = self.directory / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # new and ours: never contended
        segment = _Segment(path, fd, active=True)
        self._segments.append(segment)
        return segment

    def _maybe_sync(self, fd: int) -> None:
        if self.fsync == "off":
            return
        now = time.monotonic()
        if self.fsync == "batch" or now - self._last_sync >= float(self.fsync):
            os.fsync(fd)
            self._last_sync = now

    # -- replaying ---------------------------------------------------------------------------
    def peek(self) -> tuple[Any, list[Any]] | None:
        """The oldest record not replayed yet: (a reference for :meth:`done`, its batch)."""
        with self._lock:
            for segment in self._segments:
                if segment.pending:
                    offset, _ = segment.pending[0]
                    header = os.pread(segment.fd, HEADER.size, offset)
                    _, _, length, _ = HEADER.unpack(header)
                    payload = os.pread(segment.fd, length, offset + HEADER.size)
                    return (segment, offset), decode(payload)
        return None

    def done(self, reference: Any, *, replayed: bool = True) -> None:
        """Mark a record replayed (the sink has it): never replayed again, by anyone.
        ``replayed=False``: the record was written otherwise (a hung write that came back)."""
        if not reference:
            return
        segment, offset = reference
        with self._lock:
            found = [entry for entry in segment.pending if entry[0] == offset]
            if not found or segment not in self._segments:
                return
            segment.pending.remove(found[0])
            count = found[0][1]
            os.pwrite(segment.fd, DONE, offset + STATE_OFFSET)
            self._maybe_sync(segment.fd)
            self.depth -= count
            if replayed:
                self.replayed += count
            header = os.pread(segment.fd, HEADER.size, offset)
            self.bytes -= HEADER.size + HEADER.unpack(header)[2]
            self._forget_if_done(segment)

    def _forget_if_done(self, segment: _Segment) -> None:
        if segment.pending:
            return
        if segment.active:
            os.ftruncate(segment.fd, 0)  # all replayed: start the same file again
            segment.size = 0
            return
        os.unlink(segment.path)  # unlinked while locked: a claimer that opened it sees that
        os.close(segment.fd)
        self._segments.remove(segment)

    @property
    def pending(self) -> bool:
        return self.depth > 0

    # -- taking over -------------------------------------------------------------------------
    def claim(self, now: float | None = None) -> int:
        """Take over the unlocked segments in the directory (their processes are gone); return
        how many events they hold. Runs at start, then at most every minute."""
        now = time.monotonic() if now is None else now
        if now < self._next_claim:
            return 0
        self._next_claim = now + CLAIM_EVERY_S
        found = 0
        with self._lock:
            if self.closed:
                return 0
            owned = {segment.path.name for segment in self._segments}
            for path in sorted(self.directory.glob(f"*{SUFFIX}")):
                if path.name in owned:
                    continue
                segment = self._take(path)
                if segment is not None:
                    found += sum(count for _, count in segment.pending)
            self._segments.sort(key=lambda segment: (segment.active, segment.path.name))
        if found:
            logger.info("lookout: spool %s: took over %d events to replay", self.directory, found)
        return found

    def _take(self, path: Path) -> _Segment | None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None  # replayed and deleted by its owner meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a live process owns it
            return None
        try:
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)
        except FileNotFoundError:
            os.close(fd)  # deleted (and maybe made anew) after we opened it
            return None
        segment = _Segment(path, fd)
        self._scan(segment)
        self._segments.append(segment)
        self._forget_if_done(segment)
        return segment

    def _scan(self, segment: _Segment) -> None:
        """Find a taken-over segment's pending records; cut off a torn or corrupt tail."""
        size = os.fstat(segment.fd).st_size
        offset = 0
        while offset + HEADER.size <= size:
            magic, state, length, crc = HEADER.unpack(os.pread(segment.fd, HEADER.size, offset))
            end = offset + HEADER.size + length
            if magic != MAGIC or end > size:
                break
            payload = os.pread(segment.fd, length, offset + HEADER.size)
            if zlib.crc32(payload) != crc:
                break
            if state == PENDING:
                count = len(json.loads(payload))
                segment.pending.append((offset, count))
                self.depth += count
                self.bytes += end - offset
            offset = end
        if offset < size:
            self.corrupt += 1
            logger.warning(
                "lookout: spool segment %s: %d bytes at its end are torn or corrupt; cut off",
                segment.path,
                size - offset,
            )
            os.ftruncate(segment.fd, offset)
        segment.size = offset

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Sync and release the segments: what is left is the next process's to replay."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for segment in self._segments:
                if self.fsync != "off":
                    os.fsync(segment.fd)
                if not segment.pending and segment.active:
                    os.unlink(segment.path)
                os.close(segment.fd)
            self._segments = []
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # only when empty: nothing left to replay

    def after_fork(self) -> None:
        """In a forked child: the parent's segments and their locks stay the parent's."""
        for segment in self._segments:
            os.close(segment.fd)  # the parent's descriptors keep its locks
        self._segments = []
        self._lock = threading.Lock()
        self.depth = self.bytes = self.spooled = self.replayed = self.overflow = 0
        self.corrupt = 0
        self._next_claim = time.monotonic() + CLAIM_EVERY_S

    def stats(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "bytes": self.bytes,
            "spooled": self.spooled,
            "replayed": self.replayed,
            "overflow": self.overflow,
            "corrupt": self.corrupt,
        }
