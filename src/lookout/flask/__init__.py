"""Flask integration: one line records every request.

    from lookout.flask import LookoutFlask

    LookoutFlask(app, group_by=lambda: current_user.id, track_g={"POST": ["cart_id"]})

Inside a request, :func:`request_id` gives the request's id and :func:`add_metric` buffers a
custom metric that is recorded when the request ends.
"""

from __future__ import annotations

try:
    import flask as _flask  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "lookout.flask needs Flask: pip install 'lookout[flask]'", name=exc.name
    ) from exc

from lookout.flask.context import add_metric, request_id
from lookout.flask.extension import LookoutFlask
from lookout.units import CLOUDWATCH_UNITS

__all__ = ["CLOUDWATCH_UNITS", "LookoutFlask", "add_metric", "request_id"]
