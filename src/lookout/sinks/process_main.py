"""The helper process of :class:`~lookout.sinks.process.ProcessSink` (``python -m`` this).

Reads a spec, then batches, from stdin; answers each on stdout. Stray prints go to stderr, so
they can never corrupt the answers.
"""

from __future__ import annotations

import marshal
import os
import signal
import sys
from typing import Any

from lookout.events import Event
from lookout.sink_queue import describe_failure
from lookout.sinks.base import InvalidData, PermanentWriteError, is_data_error
from lookout.sinks.process import receive_frame, send_frame
from lookout.sinks.sql import SqlSink


def _answer(sink: SqlSink, payload: Any) -> tuple[Any, ...]:
    try:
        if payload is None:
            return ("ok", sink.check())
        sink.write([Event(*fields) for fields in payload])
    except PermanentWriteError as exc:
        data = isinstance(exc, InvalidData)
        return ("error", "data" if data else True, exc.rejected, describe_failure(exc))
    except Exception as exc:
        # "data": the batch's data was refused, so the application's Recorder splits it
        return ("error", "data" if is_data_error(exc) else False, None, describe_failure(exc))
    return ("ok",)


def main() -> None:
    # The parent flushes on SIGINT/SIGTERM and then closes the pipe; we stop at that EOF.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    spec = marshal.loads(receive_frame(requests))
    sink = SqlSink(
        spec["url"],
        retention_s=spec.get("retention_s"),
        rollup_retention_s=spec.get("rollup_retention_s"),
        hostname=spec.get("hostname"),
    )
    send_frame(answers, marshal.dumps(("ready", os.getpid())))
    try:
        while True:
            try:
                payload = marshal.loads(receive_frame(requests))
            except EOFError:
                return
            send_frame(answers, marshal.dumps(_answer(sink, payload)))
    finally:
        sink.close()


if __name__ == "__main__":
    main()
