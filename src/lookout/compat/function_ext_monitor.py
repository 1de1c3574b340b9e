"""function-ext-monitor's ``external_function_monitor``, on Lookout.

    from lookout.compat.function_ext_monitor import external_function_monitor

Every call of the decorated function POSTs one JSON object to ``report_server_url``, with the
keys function-ext-monitor 0.0.6 sends, in its order: ``function_name`` (``Class.method`` for a
method of a module-level class, as the original names it), ``host_name`` (the computer's name)
and every extra item, as given. A callable value is called per call, as the original does:
with no argument when it takes none (``lambda: datetime.now()``); one that needs an argument
(the README's ``lambda _: ...``, which the original could not call) gets a
:class:`lookout.monitor.CallInfo` (args, result or error, duration). Datetimes arrive as ISO
8601 text. ``headers`` go out as HTTP headers with ``Content-Type: application/json``;
callables there are called per request. Values are sent whole up to
:data:`lookout.compat.COMPAT_MAX_BYTES` and never redacted unless the ``redact_keys`` setting
names them.

Unlike the original, nothing is sent from a new process per call: the call is captured in
nanoseconds and posted by Lookout's background worker, with retries; the function's result and
exceptions are untouched.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from lookout.compat import compat_lookout
from lookout.core import Lookout
from lookout.events import Event
from lookout.monitor import CallInfo
from lookout.sinks.http import HttpSink

F = TypeVar("F", bound=Callable[..., Any])
_instances: dict[tuple[str, tuple[tuple[str, Any], ...]], Lookout] = {}
#: A module-level class's method: its qualname is ``Class.name`` (no ``<locals>``).
_METHOD_QUALNAME = re.compile(r"^[^.<>]+\.[^.<>]+$")


def _payload(event: Event) -> dict[str, Any]:
    return {"function_name": event.name, "host_name": event.host, **event.fields}


def _lookout_for(url: str, headers: Mapping[str, Any]) -> Lookout:
    """One Lookout (and HTTP worker) per endpoint and header set, shared by its functions."""
    key = (url, tuple(sorted((name, id(value)) for name, value in headers.items())))
    if key not in _instances:
        sink = HttpSink(
            url,
            headers={name: _header_value(value) for name, value in headers.items()},
            per_event=True,
            payload_generator=_payload,
        )
        _instances[key] = compat_lookout(sinks=[sink], batch_interval=0.05)
    return _instances[key]


def takes_no_argument(function: Callable[..., Any]) -> bool:
    """Whether ``function`` can be called with no argument (how the original calls values)."""
    try:
        inspect.signature(function).bind()
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): call it as the original does
        return True
    return True


def _extra_value(value: Any) -> Any:
    if not callable(value):
        return value
    if takes_no_argument(value):
        return lambda _info, function=value: function()
    return value  # called with the CallInfo


def _header_value(value: Any) -> Any:
    if callable(value) and takes_no_argument(value):
        return lambda _event, function=value: function()
    return value  # a string, or a callable given the event


def function_name(function: Callable[..., Any]) -> str:
    """The name the original reports: ``Class.method`` for a module-level class's method."""
    qualname = getattr(function, "__qualname__", "") or ""
    name: str = getattr(function, "__name__", None) or repr(function)
    return qualname if _METHOD_QUALNAME.match(qualname) else name


def external_function_monitor(
    report_server_url: str, headers: Mapping[str, Any] | None = None, **data: Any
) -> Callable[[F], F]:
    """Report every call of the decorated function to ``report_server_url`` (see the module
    docstring)."""
    lookout = _lookout_for(report_server_url, headers or {})
    extra = {key: _extra_value(value) for key, value in data.items()}

    def decorate(function: F) -> F:
        return lookout.monitor(name=function_name(function), extra=extra)(function)

    return decorate


def flush(timeout: float = 10.0) -> bool:
    """Send everything reported so far (before exit, or in tests)."""
    return all(instance.flush(timeout) for instance in list(_instances.values()))


def stats() -> dict[str, dict[str, object]]:
    """Per endpoint: what was sent, retried, failed or dropped."""
    return {url: instance.stats()["sinks"]["http"] for (url, _), instance in _instances.items()}


__all__ = ["CallInfo", "external_function_monitor", "flush", "stats"]
