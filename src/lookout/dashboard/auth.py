"""Who may see the dashboard and who may change things.

- Two roles: ``admin`` (change monitoring levels, delete data, manage API tokens) and
  ``guest`` (read only). One admin login; guests may have several passwords.
- Passwords are kept and compared only as salted hashes (``werkzeug.security``, which compares
  in constant time). With no admin password configured, one is generated at first start,
  its hash stored in the store (so every process and restart agrees) and the password logged
  once. ``auth=None`` turns login off, for local development only.
- Sessions are kept in the store (:mod:`lookout.dashboard.sessions`): the cookie (HttpOnly,
  SameSite=Lax, Secure over HTTPS or with ``secure_cookies``) carries a random id signed with
  a key kept in the store, so it does not depend on the host app's ``SECRET_KEY``. Logout
  ends the session in every process; so does a password change, for every session made with
  the old password. Each session has a CSRF token that every state-changing request must
  send back.
- Failed logins slow down per (user name, client address) pair
  (:mod:`lookout.dashboard.throttle`), so nobody can lock the admin out.
- API tokens for machines: created by an admin, shown once, stored as SHA-256 hashes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from lookout.dashboard.sessions import SessionStore
from lookout.dashboard.throttle import LoginThrottle
from lookout.store import schema
from lookout.store.engine import SqlStore
from lookout.store.settings import read_settings, write_setting

logger = logging.getLogger("lookout.dashboard")

ADMIN, GUEST = "admin", "guest"
SESSION_COOKIE = "lookout_session"
SESSION_MAX_AGE_S = 12 * 3600
ADMIN_HASH_KEY = "dashboard.admin_password_hash"
SECRET_KEY = "dashboard.secret_key"
TOKEN_PREFIX = "dashboard.token:"
#: The fingerprint of the admin's current password: a new one ends the old one's sessions.
CREDENTIAL_KEY = "dashboard.admin_credential"


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    role: str
    csrf: str = ""
    via_token: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def _insert_if_absent(store: SqlStore, key: str, value: str) -> str:
    """Store ``value`` under ``key`` unless a value is there; return the one that is."""
    table = schema.settings
    try:
        with store.engine.begin() as connection:
            connection.execute(
                sa.insert(table).values(key=key, value=value, updated_ns=time.time_ns())
            )
        return value
    except sa.exc.IntegrityError:  # another process was first: use its value
        return read_settings(store, key)[""]


class Authenticator:
    """Checks passwords, sessions and tokens against what the store and the settings say.

    Args:
        store: where the generated admin password's hash, the session key and tokens live.
        admin_user: the admin's login name.
        admin_password: the admin's password (hashed at once), or None to use the stored or
            a generated one.
        guest_user: the guest login name.
        guest_passwords: passwords that log in as guest (none: no guest login).
        enabled: False turns login off (everyone is admin): local development only.
    """

    def __init__(
        self,
        store: SqlStore,
        *,
        admin_user: str = "admin",
        admin_password: str | None = None,
        guest_user: str = "guest",
        guest_passwords: Sequence[str] = (),
        enabled: bool = True,
    ) -> None:
        self.store = store
        self.enabled = enabled
        self.admin_user = admin_user
        self.guest_user = guest_user
        self._guest_hashes = [generate_password_hash(p) for p in guest_passwords if p]
        if admin_password:
            self._admin_hash = generate_password_hash(admin_password)
        elif enabled:
            self._admin_hash = self._stored_admin_hash()
        else:  # no login at all: nothing to generate or log
            self._admin_hash = generate_password_hash(secrets.token_urlsafe(32))
        self._secret = _insert_if_absent(store, SECRET_KEY, secrets.token_urlsafe(32)).encode()
        self.sessions = SessionStore(store, self._secret.decode(), SESSION_MAX_AGE_S)
        self.throttle = LoginThrottle()
        # Fingerprints of the passwords in force, the same in every process sharing the store
        # (a keyed hash of the password, or of the stored hash of a generated one): a session
        # is valid only while the password it was made with is.
        self._admin_credential = self._fingerprint(
            "admin", admin_password or f"stored:{self._admin_hash}"
        )
        self._guest_credentials = {self._fingerprint("guest", p) for p in guest_passwords if p}
        if enabled:
            self._end_sessions_of_old_password()

    def _stored_admin_hash(self) -> str:
        stored = read_settings(self.store, ADMIN_HASH_KEY).get("")
        if stored:
            return stored
        password = secrets.token_urlsafe(12)
        candidate = generate_password_hash(password)
        kept = _insert_if_absent(self.store, ADMIN_HASH_KEY, candidate)
        if kept == candidate:  # this process made it: the only one that knows it
            logger.warning(
                "lookout dashboard: generated the password of user %r: %s (stored hashed; "
                "set dashboard_admin_password to choose one)",
                self.admin_user,
                password,
            )
        return kept

    def _fingerprint(self, role: str, password: str) -> str:
        return hmac.new(self._secret, f"{role}:{password}".encode(), hashlib.sha256).hexdigest()

    def _end_sessions_of_old_password(self) -> None:
        """The first process to start with a new admin password ends the old one's sessions,
        in every process (they read sessions from the store)."""
        if read_settings(self.store, CREDENTIAL_KEY).get("") == self._admin_credential:
            return
        write_setting(self.store, CREDENTIAL_KEY, self._admin_credential)
        self.sessions.end_sessions(self.admin_user, unless_credential=self._admin_credential)

    # -- passwords and sessions ------------------------------------------------------------------
    def check_password(self, user: str, password: str) -> str | None:
        """The role ``user`` logs in with, or None. Every hash is checked (no early exit on the
        user name), so timing tells nothing about which names exist."""
        admin_ok = check_password_hash(self._admin_hash, password)
        guest_ok = any([check_password_hash(h, password) for h in self._guest_hashes])  # noqa: C419 - all of them, always
        if hmac.compare_digest(user.encode(), self.admin_user.encode()) and admin_ok:
            return ADMIN
        if hmac.compare_digest(user.encode(), self.guest_user.encode()) and guest_ok:
            return GUEST
        return None

    def start_session(self, user: str, role: str, password: str) -> str:
        """A new server-side session for a user who just gave ``password``: its cookie."""
        credential = self._admin_credential if role == ADMIN else self._fingerprint(GUEST, password)
        cookie, _ = self.sessions.start(user, role, credential)
        return cookie

    def user_from_cookie(self, cookie: str | None) -> User | None:
        """The user of a live session made with a password still in force, or None."""
        session = self.sessions.find(cookie)
        if session is None:
            return None
        if session.role == ADMIN:
            valid = hmac.compare_digest(session.credential, self._admin_credential)
        else:
            valid = session.role == GUEST and session.credential in self._guest_credentials
        return User(session.user, session.role, session.csrf) if valid else None

    def end_session(self, cookie: str | None) -> None:
        self.sessions.end(cookie)

    # -- tokens ---------------------------------------------------------------------------------
    def create_token(self, name: str, role: str) -> tuple[str, str]:
        """A new token: returns (id, token). Only its hash is stored; show it once."""
        if role not in (ADMIN, GUEST):
            raise ValueError("role must be 'admin' or 'guest'")
        token_id = secrets.token_hex(4)
        token = f"lk_{token_id}_{secrets.token_urlsafe(24)}"
        record = {
            "name": name[:100],
            "role": role,
            "created_ns": time.time_ns(),
            "sha256": hashlib.sha256(token.encode()).hexdigest(),
        }
        write_setting(self.store, TOKEN_PREFIX + token_id, json.dumps(record))
        return token_id, token

    def tokens(self) -> list[dict[str, Any]]:
        found = []
        for token_id, text in read_settings(self.store, TOKEN_PREFIX).items():
            record = json.loads(text)
            if record.get("revoked"):
                continue
            found.append(
                {
                    "id": token_id,
                    "name": record["name"],
                    "role": record["role"],
                    "created_ns": record["created_ns"],
                }
            )
        return sorted(found, key=lambda t: t["created_ns"])

    def revoke_token(self, token_id: str) -> bool:
        stored = read_settings(self.store, TOKEN_PREFIX + token_id).get("")
        if stored is None:
            return False
        record = json.loads(stored)
        record["revoked"] = True
        write_setting(self.store, TOKEN_PREFIX + token_id, json.dumps(record))
        return True

    def user_from_token(self, header: str | None) -> User | None:
        if not header or not header.startswith("Bearer lk_"):
            return None
        token = header[len("Bearer ") :].strip()
        parts = token.split("_", 2)
        if len(parts) != 3:
            return None
        stored = read_settings(self.store, TOKEN_PREFIX + parts[1]).get("")
        if stored is None:
            return None
        record = json.loads(stored)
        digest = hashlib.sha256(token.encode()).hexdigest()
        if record.get("revoked") or not hmac.compare_digest(digest, record["sha256"]):
            return None
        return User(f"token:{record['name']}", record["role"], via_token=True)
