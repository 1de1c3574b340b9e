"""Server-side dashboard sessions, kept in the store so that logout ends them everywhere.

A session is a row of the store's settings table, ``dashboard.session:<sha256 of its id>``,
holding the user, role, CSRF token, expiry and the fingerprint of the credential it was made
with. The cookie carries only the random id, signed (so forged cookies cost no database read).
Every process sharing the store reads the same rows, so a logout or a password change in one
process ends the session in all of them at once.

Why rows in the settings table rather than a new table (Alembic migration) or a generation
number: a generation number can only end *every* session of a user (logging out on one
browser would log out the others); rows end exactly one. The settings table already exists in
every store at schema version 2, is keyed by a primary key (one indexed read per request) and
is written with the same statements on every database, so no migration is needed and stores
upgraded or not behave alike. Dashboard sessions are few (people, not requests), so the prefix
scans of :meth:`SessionStore.end_sessions` and of the expiry sweep stay small.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer

from lookout.store import schema
from lookout.store.engine import SqlStore
from lookout.store.settings import read_settings, write_setting

SESSION_PREFIX = "dashboard.session:"
NS = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class Session:
    user: str
    role: str
    csrf: str
    expires_ns: int
    credential: str


class SessionStore:
    """Sessions of one dashboard's store, signed with ``secret`` and ending after ``max_age_s``."""

    def __init__(self, store: SqlStore, secret: str, max_age_s: int) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self._serializer = URLSafeTimedSerializer(secret, salt="lookout-dashboard-session-id")

    @staticmethod
    def _key(session_id: str) -> str:
        return SESSION_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()

    def start(self, user: str, role: str, credential: str) -> tuple[str, Session]:
        """A new session: returns (cookie value, session)."""
        self._sweep()
        session_id = secrets.token_urlsafe(32)
        session = Session(
            user=user,
            role=role,
            csrf=secrets.token_urlsafe(24),
            expires_ns=time.time_ns() + self.max_age_s * NS,
            credential=credential,
        )
        write_setting(self.store, self._key(session_id), json.dumps(dataclasses.asdict(session)))
        return self._serializer.dumps(session_id), session

    def _session_id(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            found = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        return found if isinstance(found, str) else None

    def find(self, cookie: str | None) -> Session | None:
        """The live session a cookie names, or None (unsigned, ended or expired)."""
        session_id = self._session_id(cookie)
        if session_id is None:
            return None
        text = read_settings(self.store, self._key(session_id)).get("")
        if text is None:
            return None
        session = Session(**json.loads(text))
        return session if session.expires_ns > time.time_ns() else None

    def end(self, cookie: str | None) -> None:
        """End the session a cookie names (logout)."""
        session_id = self._session_id(cookie)
        if session_id is not None:
            self._delete([self._key(session_id)])

    def end_sessions(self, user: str, *, unless_credential: str | None = None) -> int:
        """End every session of ``user`` (except those made with ``unless_credential``)."""
        ended = [
            SESSION_PREFIX + key
            for key, text in read_settings(self.store, SESSION_PREFIX).items()
            if (found := json.loads(text))["user"] == user
            and found["credential"] != unless_credential
        ]
        self._delete(ended)
        return len(ended)

    def _sweep(self) -> None:
        """Drop expired sessions (at each login: sessions are few)."""
        now = time.time_ns()
        self._delete(
            [
                SESSION_PREFIX + key
                for key, text in read_settings(self.store, SESSION_PREFIX).items()
                if json.loads(text)["expires_ns"] <= now
            ]
        )

    def _delete(self, keys: list[str]) -> None:
        if not keys:
            return
        table = schema.settings
        with self.store.engine.begin() as connection:
            connection.execute(sa.delete(table).where(table.c.key.in_(keys)))
