"""Drop-in replacements for five monitoring tools: change one import line, keep your code.

- ``lookout.compat.function_ext_monitor``: ``external_function_monitor``
- ``lookout.compat.flask_chest``: ``flask_chest`` and the ``FlaskChest*`` classes
- ``lookout.compat.dashboard``: Flask-MonitoringDashboard's ``config`` and ``bind``
- ``lookout.compat.cloudwatch``: flask-cloudwatch-metric's ``CloudWatchMetricsReporter``
- ``lookout.compat.supervisor``: agrc supervisor's ``Supervisor``, ``MessageDetails`` and handlers

Each is a thin adapter over Lookout's own parts (see docs/migrating/). Where a tool's documented
default was unsafe, it is kept for compatibility with a one-time warning naming the safer
setting.
"""

from __future__ import annotations

import warnings

_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """A compatibility warning, once per process and key."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)
