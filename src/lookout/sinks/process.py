"""``ProcessSink``: the store written from a helper process.

Writing a batch to the store is most of what recording a request costs (building rows, JSON,
the SQL insert, rollups: about 6 µs of CPU per event), and in the application's process that
work competes with the request threads for the GIL. With ``store_process = true`` the sink
worker only packs each batch (``marshal``, about 0.5 µs per event) and hands it through a pipe
to a child process (``python -m lookout.sinks.process_main``) that runs the real
:class:`~lookout.sinks.sql.SqlSink`; it waits for the child's answer, so counters, retries and
``flush()`` mean exactly what they mean in-process.

The child is started on the first write, one per application process (each gunicorn worker has
its own), is restarted when it dies (the batch is retried), ignores SIGINT and SIGTERM (so a
Ctrl-C or a service stop reaching the whole process group cannot kill it before the parent has
flushed), and exits when its parent closes the pipe or dies.
"""

from __future__ import annotations

import logging
import marshal
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from lookout.events import Event
from lookout.sinks.base import BaseSink, InvalidData, PermanentWriteError

logger = logging.getLogger("lookout.sinks.process")

#: Frame header: the payload's length, big-endian unsigned 32 bits.
_HEADER = struct.Struct(">I")
#: Longest wait for the child's answer to one batch (a locked or slow database).
REPLY_TIMEOUT_S = 300.0
#: Longest wait for a new child to import Lookout and open the store.
START_TIMEOUT_S = 120.0


class WriterProcessError(Exception):
    """The helper process failed to write a batch, or ended; the batch is retried."""


def send_frame(stream: IO[bytes], payload: bytes) -> None:
    """Write one frame whole: an unbuffered pipe may take a large write in parts."""
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        written = stream.write(view)
        view = view[written or 0 :]


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("the pipe was closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _wait_readable(stream: IO[bytes], timeout: float) -> None:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no answer within {timeout:g}s")


def receive_frame(stream: IO[bytes]) -> bytes:
    (size,) = _HEADER.unpack(read_exactly(stream, _HEADER.size))
    return read_exactly(stream, size)


class ProcessSink(BaseSink):
    """Writes batches with a sink that runs in a helper process.

    Args:
        spec: what the child builds, as plain data: ``{"type": "sql", "url": ...,
            "retention_s": ..., "rollup_retention_s": ...}``.
        python: the interpreter that runs the child (default ``sys.executable``; set it under
            servers where that is not a Python, such as uWSGI).
    """

    def __init__(
        self, spec: dict[str, Any], *, name: str = "sql", python: str | None = None
    ) -> None:
        if spec.get("type") != "sql":
            raise ValueError(f"ProcessSink: only the SQL store runs in a process; got {spec!r}")
        self.spec = dict(spec)
        self.name = name
        self.python = python or sys.executable
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.starts = 0

    # -- the child ---------------------------------------------------------------------------
    def _running_child(self) -> subprocess.Popen[bytes]:
        child = self._child
        if child is not None and child.poll() is None:
            return child
        if child is not None:
            logger.warning(
                "lookout: the store's writer process (pid %d) ended with code %s; starting another",
                child.pid,
                child.returncode,
            )
            self._discard(child)
        child = subprocess.Popen(
            [self.python, "-m", "lookout.sinks.process_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            send_frame(child.stdin, marshal.dumps(self.spec))
            _wait_readable(child.stdout, START_TIMEOUT_S)
            receive_frame(child.stdout)  # "ready": it runs and has imported Lookout
        except (OSError, EOFError, TimeoutError) as exc:
            self._discard(child)
            raise WriterProcessError(
                f"the store's writer process did not start ({type(exc).__name__}: {exc})"
            ) from None
        self._child = child
        self.starts += 1
        return child

    def _discard(self, child: subprocess.Popen[bytes]) -> None:
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
        if child.poll() is None:
            child.kill()
        child.wait()
        if self._child is child:
            self._child = None

    def _call(self, payload: bytes) -> tuple[Any, ...]:
        with self._lock:
            child = self._running_child()
            assert child.stdin is not None
            assert child.stdout is not None
            try:
                send_frame(child.stdin, payload)
                _wait_readable(child.stdout, REPLY_TIMEOUT_S)
                reply: tuple[Any, ...] = marshal.loads(receive_frame(child.stdout))
            except (OSError, EOFError, ValueError, TimeoutError) as exc:
                self._discard(child)
                raise WriterProcessError(
                    f"the store's writer process stopped answering ({type(exc).__name__}: "
                    f"{exc}); it is restarted for the retry"
                ) from None
        return reply

    # -- Sink ------------------------------------------------------------------------------
    def write(self, batch: Sequence[Event]) -> None:
        # plain tuples for marshal, which writes an object shared by many events (a route's
        # fields, a method's tags) once, and the child's writer then makes its JSON once
        reply = self._call(marshal.dumps([tuple(event) for event in batch]))
        if reply[0] == "ok":
            return
        _, permanent, rejected, message = reply
        if permanent == "data":
            raise InvalidData(message, rejected)
        if permanent:
            raise PermanentWriteError(message, rejected)
        raise WriterProcessError(message)

    def check(self) -> str:
        reply = self._call(marshal.dumps(None))
        if reply[0] != "ok":
            raise WriterProcessError(reply[-1])
        child = self._child
        return f"{reply[1]} (from the writer process, pid {child.pid if child else '?'})"

    def after_fork(self) -> None:
        """In a forked child: the writer belongs to the parent; start our own when needed."""
        child, self._child = self._child, None
        self._lock = threading.Lock()
        if child is not None:
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()  # our copies only: the parent's pipe stays open

    def close(self) -> None:
        """Close the pipe; the child finishes what it was given and exits."""
        with self._lock:
            child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
