"""A process recording calls at a steady rate, for the fault tests to stop, kill and restart.

    python -m tests.faults.load STORE_URL SPOOL_DIR RATE SECONDS FIRST_SEQ

Each call carries its sequence number (field ``seq``). The process prints ``emitted N`` after
every call has returned to the host (so a line on stdout proves the event was captured), and
``done`` after close().
"""

from __future__ import annotations

import sys
import time

from lookout import Lookout


def main() -> None:
    url, spool_dir, rate, seconds, first = sys.argv[1:6]
    lk = Lookout(
        store=url,
        spool_dir=spool_dir,
        batch_size=100,
        batch_interval=0.2,
        retry_backoff=0.2,
        retry_max_backoff=1,
        shutdown_timeout=10,
    )

    @lk.monitor(name="load.work", extra={"seq": lambda call: call.args[0]})
    def work(seq: int) -> int:
        return seq

    interval = 1.0 / float(rate)
    start = time.monotonic()
    seq = int(first)
    end = start + float(seconds)
    n = 0
    while time.monotonic() < end:
        work(seq)
        print(f"emitted {seq}", flush=True)
        seq += 1
        n += 1
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    lk.close(10)
    print("done", flush=True)


if __name__ == "__main__":
    main()
