"""Flask integration: one line records every request.

    from lookout.flask import LookoutFlask

    LookoutFlask(app, group_by=lambda: current_user.id, track_g={"POST": ["cart_id"]})

Inside a request, :func:`request_id` gives the request's id and :func:`add_metric` buffers a
custom metric that is recorded when the request ends.
"""

from __future__ import annotations

from lookout._internal import optional_dependency

with optional_dependency("flask", "lookout.flask"):
    import flask as _flask  # noqa: F401

from lookout.flask.context import add_metric, request_id
from lookout.flask.extension import LookoutFlask
from lookout.units import CLOUDWATCH_UNITS

__all__ = ["CLOUDWATCH_UNITS", "LookoutFlask", "add_metric", "request_id"]
