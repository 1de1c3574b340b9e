"""``g`` variables and groups: read in a ``teardown_request`` hook, there only when
``track_g``, ``group_by`` or a per-route ``track`` asks for them, while the request's context
still exists (on success and on error alike)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, g, request

from lookout.coerce import coerce
from lookout.flask.context import STATE_KEY, RequestState
from lookout.flask.options import TRACK_ATTRIBUTE, AppConfig

if TYPE_CHECKING:
    from lookout.core import Lookout

logger = logging.getLogger("lookout.flask")


class GTracking:
    """The ``g`` and group capture of one app."""

    def __init__(
        self, lookout: Lookout, config: AppConfig, app: Flask, hook_lock: threading.Lock
    ) -> None:
        self.lookout = lookout
        self.config = config
        self.app = app
        self._hook_lock = hook_lock
        self._tracked_by_endpoint: dict[tuple[str | None, str], tuple[str, ...] | str | None] = {}

    def capture_context(self, error: BaseException | None) -> None:
        """``teardown_request`` hook, there when g variables or groups are recorded: reads
        them while the request's context still exists (on success and on error alike)."""
        state: RequestState | None = request.environ.get(STATE_KEY)
        if state is None:
            return
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.endpoint in self.config.exclude_endpoints:
            return
        try:
            state.extra = self._extra_fields(req)
            group = self._group()
            if isinstance(group, tuple):
                state.extra = {**(state.extra or {}), "group.error": group[1]}
                group = None
            state.group = group
        except Exception:
            if self.config.raise_exceptions:
                raise
            logger.exception("lookout: reading g for a request failed (the response is unchanged)")

    def ensure_context_hook(self) -> None:
        with self._hook_lock:
            funcs = self.app.teardown_request_funcs.setdefault(None, [])
            if self.capture_context not in funcs:
                funcs.append(self.capture_context)

    def _group(self) -> Any:
        """The group_by result; ``("error", message)`` when the callable raised."""
        group_by = self.config.group_by
        if group_by is None:
            return None
        try:
            return group_by()
        except Exception as exc:
            if self.config.raise_exceptions:
                raise
            return ("error", f"{type(exc).__name__}: {exc}"[:500])

    def _extra_fields(self, req: Request) -> dict[str, Any] | None:
        names = self._tracked_names(req)
        if names is None:
            return None
        values = vars(g._get_current_object())
        if names == "all":
            chosen = {k: v for k, v in values.items() if not k.startswith("_")}
        else:
            chosen = {name: values[name] for name in names if name in values}
        if not chosen:
            return None
        limits = self.lookout.limits
        return {"g": {name: coerce(value, limits) for name, value in chosen.items()}}

    def _tracked_names(self, req: Request) -> tuple[str, ...] | str | None:
        """The g names to record for this endpoint and method (cached per pair)."""
        key = (req.endpoint, req.method)
        try:
            return self._tracked_by_endpoint[key]
        except KeyError:
            pass
        view = self.app.view_functions.get(req.endpoint or "")
        track = getattr(view, TRACK_ATTRIBUTE, None) if view is not None else None
        setting = track if track is not None else self.config.track_g
        if setting is None or setting == "all":
            names: tuple[str, ...] | str | None = setting
        else:
            assert isinstance(setting, dict)
            names = setting.get(req.method, setting.get("*"))
        self._tracked_by_endpoint[key] = names
        return names
