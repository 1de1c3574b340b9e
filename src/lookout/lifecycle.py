"""Process-level hooks: flush at exit and on SIGTERM, start fresh workers after fork.

Kept apart from the Lookout class because these hooks are per process (one atexit handler,
one SIGTERM handler, one at-fork hook), however many Lookout instances exist.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lookout.host import Managed

logger = logging.getLogger("lookout")

_instances: weakref.WeakSet[Managed] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_sigterm_installed = False
_previous_sigterm: Any = None


def register(instance: Managed) -> None:
    """Track ``instance`` for exit/fork handling; install the process hooks on first use."""
    global _installed
    with _lock:
        _instances.add(instance)
        if not _installed:
            atexit.register(close_all)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork_in_child)
            _installed = True
    if instance.settings.handle_sigterm:
        install_sigterm_handler()


def unregister(instance: Managed) -> None:
    with _lock:
        _instances.discard(instance)


def close_all() -> None:
    """Write what every live instance has queued; runs at interpreter exit."""
    for instance in list(_instances):
        try:
            instance.close()
        except Exception:  # never turn a clean exit into a traceback
            logger.exception("lookout: closing at exit failed")


def flush_all() -> None:
    for instance in list(_instances):
        try:
            instance.flush(instance.settings.shutdown_timeout)
        except Exception:
            logger.exception("lookout: flushing on SIGTERM failed")


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent may have held it while forking
    for instance in list(_instances):
        instance.recorder.reset_after_fork()


def install_sigterm_handler() -> bool:
    """Flush on SIGTERM, then pass the signal on to whatever handled it before.

    Only the main thread may install signal handlers; elsewhere this does nothing and returns
    False (exit-time flushing still happens through atexit).
    """
    global _sigterm_installed, _previous_sigterm
    if _sigterm_installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    _previous_sigterm = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _sigterm_installed = True
    return True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    flush_all()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:  # SIG_DFL (or unknown): die of the signal as the process would have without us
        close_all()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
