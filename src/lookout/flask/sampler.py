"""One background thread that looks at the stacks of requests in flight.

Only requests at monitoring level 2 or 3 are watched (registering one is a dict assignment
on the request's thread). Every ``interval`` the sampler reads ``sys._current_frames()`` and:

- for a request past its endpoint's outlier threshold, keeps up to ``MAX_OUTLIER_STACKS``
  formatted stacks, taken while it is being slow rather than after it finished, and the
  process's resident memory at the first of them (read here, never on the request's thread);
- for a request at level 3 (profiling), adds the time since its previous sample to its folded
  stack (``file:function:line;...``, from the view's own frame down). Timing each sample,
  rather than assuming one interval per sample, keeps the profile right when the GIL delays the
  sampler (a CPU-bound request holds it for up to the switch interval).

The requests to look at are listed *before* the stacks and the clock are read: a request
registered after that reading has a start later than it, and timing its first sample against
the clock read before it gave negative durations (a frame of -1.60 ms in the dashboard).
"""

from __future__ import annotations

import linecache
import os
import sys
import threading
import time
import traceback
from types import CodeType, FrameType

MAX_OUTLIER_STACKS = 3
#: Frames kept below the view's frame (deeper ones are cut, keeping the view's side).
MAX_STACK_DEPTH = 64
#: Distinct paths kept per request; time on further paths goes to ``OTHER_PATHS``.
MAX_PROFILE_PATHS = 500
#: The root of samples taken while the view's frame was not on the stack (Flask's hooks, the
#: response being built, the view's own frame unknown).
OUTSIDE_VIEW = "(outside the view)"
OTHER_PATHS = "(more paths than kept)"
#: Source lines kept per request (``file:line`` -> the line's code, cut to 200 characters).
MAX_SOURCE_LINES = 500
#: Frames walked at most to find the view's frame (servers add 10 to 20 above it).
_MAX_WALK = 512
_SHORT_PATHS: dict[str, str] = {}
_PREFIXES = tuple(
    sorted(
        {os.path.join(p, "") for p in (*sys.path, os.getcwd()) if p and os.path.isabs(p)},
        key=len,
        reverse=True,
    )
)


class WatchedRequest:
    """What the sampler collects for one request in flight."""

    __slots__ = (
        "cpu0_ns",
        "last_sample_ns",
        "outlier_after_ns",
        "profile",
        "rss_bytes",
        "sources",
        "stacks",
        "t0",
        "view_code",
    )

    def __init__(
        self,
        t0: int,
        outlier_after_ns: int | None,
        profile: bool,
        view_code: CodeType | None = None,
        cpu0_ns: int = 0,
    ) -> None:
        self.t0 = t0
        self.outlier_after_ns = outlier_after_ns
        #: folded stack -> [milliseconds spent there, samples]
        self.profile: dict[str, list[float]] | None = {} if profile else None
        #: ``file:line`` -> its code, for the lines the profile's paths are at
        self.sources: dict[str, str] | None = {} if profile else None
        self.stacks: list[str] = []
        self.last_sample_ns = t0
        #: the code of the view function: the profile's paths start at its frame
        self.view_code = view_code
        #: the thread's CPU clock when the request was first watched
        self.cpu0_ns = cpu0_ns
        #: the process's resident memory when the first outlier stack was taken
        self.rss_bytes: int | None = None


def short_path(filename: str) -> str:
    """A source file's path relative to the folder of ``sys.path`` (or the working folder) it
    is in: ``flask/app.py``, ``shop/views.py``, not a bare ``app.py`` two packages share."""
    found = _SHORT_PATHS.get(filename)
    if found is None:
        found = filename
        for prefix in _PREFIXES:
            if filename.startswith(prefix):
                found = filename[len(prefix) :]
                break
        if len(_SHORT_PATHS) < 10_000:
            _SHORT_PATHS[filename] = found
    return found


def fold(
    frame: FrameType | None,
    view_code: CodeType | None = None,
    sources: dict[str, str] | None = None,
) -> str:
    """The stack as ``outermost;...;innermost`` of ``file:function:line``, starting at the
    outermost frame running ``view_code`` (server, WSGI and Flask frames above it are
    dropped). Without that frame on the stack, the path is :data:`OUTSIDE_VIEW` and the
    innermost frame. The line is the one the frame is at: the line running in the innermost
    frame, the calling line in the others. With ``sources``, adds the code of each line not
    yet in it (read by :mod:`linecache`, on this thread: never the request's)."""
    frames, view_at = _walk(frame, view_code)
    if not frames:
        return OUTSIDE_VIEW
    if view_at < 0:
        return f"{OUTSIDE_VIEW};{_label(frames[0], sources)}"
    kept = frames[max(0, view_at + 1 - MAX_STACK_DEPTH) : view_at + 1]
    return ";".join(_label(f, sources) for f in reversed(kept))


def format_stack(frame: FrameType, view_code: CodeType | None = None) -> str:
    """The stack as a traceback prints it, from the outermost frame running ``view_code``
    down (all of it when that frame is not on it), its innermost ``MAX_STACK_DEPTH`` frames."""
    frames, view_at = _walk(frame, view_code)
    kept = (frames[: view_at + 1] if view_at >= 0 else frames)[:MAX_STACK_DEPTH]
    summary = traceback.StackSummary.extract(
        (f, f.f_lineno or f.f_code.co_firstlineno) for f in reversed(kept)
    )
    return "".join(summary.format())


def _walk(frame: FrameType | None, view_code: CodeType | None) -> tuple[list[FrameType], int]:
    """The frames, innermost first, and the index of the outermost running ``view_code``
    (-1: none)."""
    frames: list[FrameType] = []
    view_at = -1
    while frame is not None and len(frames) < _MAX_WALK:
        if frame.f_code is view_code:
            view_at = len(frames)
        frames.append(frame)
        frame = frame.f_back
    return frames, view_at


def _label(frame: FrameType, sources: dict[str, str] | None) -> str:
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name)
    path = short_path(code.co_filename)
    line = frame.f_lineno or code.co_firstlineno
    if sources is not None and len(sources) < MAX_SOURCE_LINES:
        where = f"{path}:{line}"
        if where not in sources:
            sources[where] = linecache.getline(code.co_filename, line).strip()[:200]
    return f"{path}:{name}:{line}"


_statm: tuple[int, int] | None = None  # (pid, descriptor of that process's statm)


def rss_bytes() -> int | None:
    """The process's resident memory now (Linux: ``/proc/self/statm``), None elsewhere.

    The file stays open (one ``pread``, 3 us, against 29 us to open, read and close it); it
    is opened again in a forked child, whose ``/proc/self`` is another process's."""
    global _statm
    try:
        pid = os.getpid()
        if _statm is None or _statm[0] != pid:
            _statm = (pid, os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC))
        return int(os.pread(_statm[1], 128, 0).split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError, AttributeError):
        return None


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


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
            if self._watched:
                self.sample(own)

    def sample(self, own: int = 0) -> None:
        """One look at every watched thread."""
        # listed first: every request listed started before the clock reading below
        watching = list(self._watched.items())
        frames = sys._current_frames()
        now = time.perf_counter_ns()
        for thread_id, watched in watching:
            frame = frames.get(thread_id)
            if frame is None or thread_id == own:
                continue
            profile = watched.profile
            spent_ns = now - watched.last_sample_ns
            if profile is not None and spent_ns > 0:
                path = fold(frame, watched.view_code, watched.sources)
                entry = profile.get(path)
                if entry is None:
                    if len(profile) >= MAX_PROFILE_PATHS:
                        path = OTHER_PATHS
                    entry = profile.setdefault(path, [0.0, 0])
                entry[0] += spent_ns / 1e6
                entry[1] += 1
                watched.last_sample_ns = now
            if (
                watched.outlier_after_ns is not None
                and now - watched.t0 > watched.outlier_after_ns
                and len(watched.stacks) < MAX_OUTLIER_STACKS
            ):
                if watched.rss_bytes is None:
                    watched.rss_bytes = rss_bytes()
                elapsed_ms = (now - watched.t0) / 1e6
                stack = format_stack(frame, watched.view_code)
                watched.stacks.append(f"after {elapsed_ms:.0f} ms:\n{stack}")
        del frames
