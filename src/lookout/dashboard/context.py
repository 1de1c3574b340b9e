"""One dashboard's settings and store, reachable from every view module during a request.

``create_blueprint`` makes one :class:`DashboardContext` per mounted dashboard and puts it on
``flask.g`` before any view runs, so view modules need no closure over the blueprint's
arguments and can live in files of their own (several apps may each mount a dashboard over a
different store in one process).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from flask import abort, g, render_template

from lookout.dashboard.api import ApiError
from lookout.dashboard.auth import Authenticator, User
from lookout.store.engine import SqlStore

BLUEPRINT_NAME = "lookout_dashboard"
DEFAULT_COLORS = {"primary": "#2563eb", "error": "#dc2626", "ok": "#16a34a"}


@dataclasses.dataclass
class DashboardOptions:
    """How the dashboard looks and who may use it (see docs/dashboard.md)."""

    admin_user: str = "admin"
    admin_password: str | None = None
    guest_user: str = "guest"
    guest_passwords: tuple[str, ...] = ()
    #: False turns login off (everyone is admin): local development only.
    auth: bool = True
    #: Always mark cookies Secure (else only over HTTPS, seen directly or, behind
    #: ``trusted_proxies``, by ``X-Forwarded-Proto``).
    secure_cookies: bool = False
    #: How many proxies in front append to X-Forwarded-For / set X-Forwarded-Proto (0: none
    #: trusted); the same setting as LookoutFlask's ``trusted_proxies``.
    trusted_proxies: int = 0
    #: The largest request body accepted (413 beyond).
    max_body_bytes: int = 1024 * 1024
    title: str = "Lookout"
    colors: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: The serving process's Lookout, for the System page's counters (None: none shown).
    stats: Callable[[], dict[str, Any]] | None = None
    #: Apdex threshold T in milliseconds, and per-name ones (None: the ``apdex_threshold`` and
    #: ``apdex_thresholds`` settings, from lookout.toml and the environment).
    apdex_threshold_ms: float | None = None
    apdex_thresholds_ms: Mapping[str, float] | None = None
    #: The serving process's alert rules and their state, for the System page.
    alerts: Callable[[], dict[str, Any] | None] | None = None


class DashboardContext:
    """The store and options of one mounted dashboard, and what views do with them."""

    def __init__(self, store: Callable[[], SqlStore | None], options: DashboardOptions) -> None:
        self._store = store
        self.options = options
        self.colors = {**DEFAULT_COLORS, **options.colors}
        self._authenticator: Authenticator | None = None

    def store(self) -> SqlStore:
        """The store (called per request: it may open after the app starts)."""
        found = self._store()
        if found is None:
            abort(503, "this Lookout has no store to show")
        return found

    def authenticator(self) -> Authenticator:
        if self._authenticator is None:
            options = self.options
            self._authenticator = Authenticator(
                self.store(),
                admin_user=options.admin_user,
                admin_password=options.admin_password,
                guest_user=options.guest_user,
                guest_passwords=options.guest_passwords,
                enabled=options.auth,
            )
        return self._authenticator

    def page(self, template: str, **context: Any) -> str:
        """An HTML page shell: its data comes from the JSON API."""
        user: User = g.lookout_user
        return render_template(
            f"lookout/{template}",
            user=user,
            csrf=user.csrf,
            title=self.options.title,
            colors=self.colors,
            auth_enabled=self.options.auth,
            **context,
        )


def current() -> DashboardContext:
    """The dashboard serving this request."""
    context: DashboardContext = g.lookout_dashboard
    return context


def admin_only() -> None:
    user: User | None = g.get("lookout_user")
    if user is None or not user.is_admin:
        raise ApiError(403, "only an admin may do this")
