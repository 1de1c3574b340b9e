"""Lookout: see what your Python code does in production.

Quick use::

    import lookout

    lk = lookout.Lookout()              # SQLite store ./lookout.db, settings from env/lookout.toml

    @lk.monitor
    def charge(order): ...

or, without keeping an instance around, the module-level default::

    lookout.configure(store="postgresql://db/metrics", app_version="1.4")

    @lookout.monitor(extra={"team": "billing"})
    def charge(order): ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from lookout.config import ConfigError, Settings
from lookout.core import Lookout
from lookout.events import Event, make_event
from lookout.monitor import CallInfo
from lookout.store.engine import StoreConfigError

__version__ = "0.1.0"
__all__ = [
    "CallInfo",
    "ConfigError",
    "Event",
    "Lookout",
    "Settings",
    "StoreConfigError",
    "__version__",
    "configure",
    "get_default",
    "make_event",
    "monitor",
]

F = TypeVar("F", bound=Callable[..., Any])

_default: Lookout | None = None
_default_lock = threading.Lock()


def configure(**options: Any) -> Lookout:
    """Set up (or change) the default instance used by :func:`lookout.monitor`.

    Takes the same arguments as :class:`Lookout`. Functions decorated before this call start
    recording with the new settings.
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = Lookout(**options)
        else:
            _default.reconfigure(**options)
        return _default


def get_default() -> Lookout:
    """The default instance, created from the environment and ``lookout.toml`` if needed.

    Creating it does no I/O: the store is opened by its worker on the first write.
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = Lookout()
        return _default


@overload
def monitor(function: F, /) -> F: ...


@overload
def monitor(
    function: None = None,
    /,
    *,
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    sample_rate: float | None = None,
) -> Callable[[F], F]: ...


def monitor(
    function: F | None = None,
    /,
    *,
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    sample_rate: float | None = None,
) -> F | Callable[[F], F]:
    """``@lookout.monitor``: :meth:`Lookout.monitor` on the default instance."""
    instance = get_default()
    if function is not None:
        return instance.monitor(function)
    return instance.monitor(name=name, extra=extra, tags=tags, sample_rate=sample_rate)
