"""One background thread that looks at the stacks of requests in flight.

Only requests at monitoring level 2 or 3 are watched (registering one is a dict assignment
on the request's thread). Every ``interval`` the sampler reads ``sys._current_frames()`` and:

- for a request past its endpoint's outlier threshold, keeps up to ``MAX_OUTLIER_STACKS``
  formatted stacks, taken while it is being slow rather than after it finished;
- for a request at level 3 (profiling), adds the time since its previous sample to its folded
  stack (``file:function;file:function;...``). Timing each sample, rather than assuming one
  interval per sample, keeps the profile right when the GIL delays the sampler (a CPU-bound
  request holds it for up to the switch interval).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from types import FrameType

MAX_OUTLIER_STACKS = 3
MAX_STACK_DEPTH = 64
MAX_PROFILE_PATHS = 2000


class WatchedRequest:
    """What the sampler collects for one request in flight."""

    __slots__ = ("last_sample_ns", "outlier_after_ns", "profile", "stacks", "t0")

    def __init__(self, t0: int, outlier_after_ns: int | None, profile: bool) -> None:
        self.t0 = t0
        self.outlier_after_ns = outlier_after_ns
        #: folded stack -> milliseconds spent there
        self.profile: dict[str, float] | None = {} if profile else None
        self.stacks: list[str] = []
        self.last_sample_ns = t0


def fold(frame: FrameType | None) -> str:
    """The stack as ``outermost;...;innermost`` of ``file:function`` (no line numbers, so
    samples of the same path add up)."""
    parts: list[str] = []
    while frame is not None and len(parts) < MAX_STACK_DEPTH:
        code = frame.f_code
        parts.append(f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}")
        frame = frame.f_back
    return ";".join(reversed(parts))


class StackSampler:
    """Samples the stacks of watched threads every ``interval`` seconds."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self._watched: dict[int, WatchedRequest] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def watch(self, thread_id: int, watched: WatchedRequest) -> None:
        self._watched[thread_id] = watched
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def unwatch(self, thread_id: int) -> WatchedRequest | None:
        return self._watched.pop(thread_id, None)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lookout-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        own = threading.get_ident()
        while not self._stop.wait(self.interval):
            if not self._watched:
                continue
            frames = sys._current_frames()
            now = time.perf_counter_ns()
            for thread_id, watched in list(self._watched.items()):
                frame = frames.get(thread_id)
                if frame is None or thread_id == own:
                    continue
                if watched.profile is not None and len(watched.profile) < MAX_PROFILE_PATHS:
                    path = fold(frame)
                    spent = (now - watched.last_sample_ns) / 1e6
                    watched.profile[path] = watched.profile.get(path, 0.0) + spent
                    watched.last_sample_ns = now
                if (
                    watched.outlier_after_ns is not None
                    and now - watched.t0 > watched.outlier_after_ns
                    and len(watched.stacks) < MAX_OUTLIER_STACKS
                ):
                    elapsed_ms = (now - watched.t0) / 1e6
                    stack = "".join(traceback.format_stack(frame, limit=MAX_STACK_DEPTH))
                    watched.stacks.append(f"after {elapsed_ms:.0f} ms:\n{stack}")
            del frames
