"""function-ext-monitor's ``external_function_monitor``, on Lookout.

    from lookout.compat.function_ext_monitor import external_function_monitor

Every call of the decorated function POSTs one JSON object to ``url``: ``computer_name``,
``function_name`` and every extra item, callables called per call with one argument (a
:class:`lookout.monitor.CallInfo`: args, result or error, duration) and datetimes as ISO 8601.
``headers`` go out as HTTP headers (callables called per request with the event), with
``Content-Type: application/json``. Unlike the original, nothing is sent from the calling
thread or from a new process per call: the call is captured in nanoseconds and posted by
Lookout's background worker, with retries; the function's result and exceptions are untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from lookout.core import Lookout
from lookout.events import Event
from lookout.sinks.http import HttpSink

F = TypeVar("F", bound=Callable[..., Any])
_instances: dict[tuple[str, tuple[tuple[str, Any], ...]], Lookout] = {}


def _payload(event: Event) -> dict[str, Any]:
    return {"computer_name": event.host, "function_name": event.name, **event.fields}


def _lookout_for(url: str, headers: Mapping[str, Any]) -> Lookout:
    """One Lookout (and HTTP worker) per endpoint and header set, shared by its functions."""
    key = (url, tuple(sorted((name, id(value)) for name, value in headers.items())))
    if key not in _instances:
        sink = HttpSink(url, headers=dict(headers), per_event=True, payload_generator=_payload)
        _instances[key] = Lookout(store=None, sinks=[sink], batch_interval=0.05)
    return _instances[key]


def external_function_monitor(url: str, **extra: Any) -> Callable[[F], F]:
    """Report every call of the decorated function to ``url`` (see the module docstring)."""
    headers = extra.pop("headers", None) or {}
    lookout = _lookout_for(url, headers)

    def decorate(function: F) -> F:
        return lookout.monitor(name=function.__name__, extra=extra)(function)

    return decorate


def flush(timeout: float = 10.0) -> bool:
    """Send everything reported so far (before exit, or in tests)."""
    return all(instance.flush(timeout) for instance in list(_instances.values()))


def stats() -> dict[str, dict[str, object]]:
    """Per endpoint: what was sent, retried, failed or dropped."""
    return {url: instance.stats()["sinks"]["http"] for (url, _), instance in _instances.items()}
