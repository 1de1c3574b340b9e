"""Drop-in replacements for five monitoring tools: change one import line, keep your code.

- ``lookout.compat.function_ext_monitor``: ``external_function_monitor``
- ``lookout.compat.flask_chest``: ``flask_chest`` and the ``FlaskChest*`` classes
- ``lookout.compat.dashboard``: Flask-MonitoringDashboard's ``config`` and ``bind``
- ``lookout.compat.cloudwatch``: flask-cloudwatch-metric's ``CloudWatchMetricsReporter``
- ``lookout.compat.supervisor``: agrc supervisor's ``Supervisor``, ``MessageDetails`` and handlers

Each is a thin adapter over Lookout's own parts (see docs/migrating/). Each records what the
original sent: values as given (no redaction unless the ``redact_keys`` setting names them) and
whole, up to :data:`COMPAT_MAX_BYTES`. Where a tool's documented default was unsafe, it is kept
for compatibility with a one-time warning naming the safer setting; an option Lookout cannot
honour raises :class:`UnsupportedOption` naming it, never silently.
"""

from __future__ import annotations

import warnings
from typing import Any

from lookout.core import Lookout

#: The most a compatibility module sends of one value, and of one event's fields (16 MiB):
#: the originals sent values whole, so the general 64 KiB / 1 MiB limits do not apply, but a
#: runaway value must still not exhaust the queue's memory.
COMPAT_MAX_BYTES = 16 * 1024 * 1024


class UnsupportedOption(TypeError):
    """An option of the original tool that Lookout does not honour (rather than ignore it)."""


def compat_lookout(**options: Any) -> Lookout:
    """A Lookout for a compatibility module: values whole up to :data:`COMPAT_MAX_BYTES`
    (environment variables still win, as for every Lookout)."""
    options.setdefault("max_value_bytes", COMPAT_MAX_BYTES)
    options.setdefault("max_event_bytes", COMPAT_MAX_BYTES)
    options.setdefault("store", None)
    return Lookout(**options)


_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """A compatibility warning, once per process and key."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)
