"""Replace secrets in what Lookout captures on its own, and keep what you chose to record.

Two kinds of data reach an event, and they are treated differently:

- **What Lookout captures on its own**, without you naming it: a slow request's headers
  (cookies included), query and view arguments (the ``outlier`` field, see
  :data:`CAPTURED_FIELDS`). Their values are replaced by ``[REDACTED]`` when their name is one
  of :data:`DEFAULT_REDACT_KEYS` (the kind of list error trackers use) or of your
  ``redact_keys``, unless it is one of your ``keep_keys``.
- **What you named**: tracked ``g`` variables, ``extra`` keys, tags, metric dimensions, a
  supervised job's fields. They are recorded as given: you asked for ``session_count`` or
  ``max_tokens`` by name, so it is not a secret that slipped in. Only names in your
  ``redact_keys`` (and not in ``keep_keys``) are replaced there.

Names match exactly, case-insensitively, after ``-`` becomes ``_`` (``X-Api-Key`` is
``x_api_key``), never by substring: ``session`` catches a ``Session`` header but not
``session_count``, ``token`` catches ``token`` but not ``max_tokens``. Decisions are cached per
name, because the same few names come back on every event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Names whose values are redacted in captured data by default (normalised: lower case, ``_``
#: for ``-``). Sentry's and similar trackers' default lists, plus common session cookies.
DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    "session",
    "sessionid",
    "session_id",
    "csrftoken",
    "csrf_token",
    "x_csrftoken",
    "x_csrf_token",
    "xsrf_token",
    "x_xsrf_token",
    "_csrf",
    "_csrf_token",
    "_xsrf",
    "api_key",
    "apikey",
    "x_api_key",
    "x_auth_token",
    "private_key",
    "privatekey",
    "credentials",
    "mysql_pwd",
    "connect.sid",
    "phpsessid",
    "jsessionid",
    "aws_secret_access_key",
    "x_amz_security_token",
)
#: Top-level event fields that hold data Lookout captured on its own (the default list
#: applies inside them); every other field holds values you named.
CAPTURED_FIELDS = frozenset({"outlier"})
REDACTED = "[REDACTED]"
_CACHE_LIMIT = 4096
#: Values that hold no keys, so nothing inside them can be secret.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def normalise_key(name: str) -> str:
    """The form names are compared in: lower case, ``-`` as ``_``, no surrounding spaces."""
    return name.strip().lower().replace("-", "_")


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(normalise_key(str(name)) for name in names)


class Redactor:
    """Applies the policy of the module docstring to an event's fields and tags.

    Args:
        redact_keys: more names to redact, in captured data and in values you named.
        keep_keys: names never redacted, even those of the default list (``session``, say,
            when your ``Session`` header holds no secret).
        default_keys: the list for captured data (:data:`DEFAULT_REDACT_KEYS`).
    """

    def __init__(
        self,
        redact_keys: Iterable[str] = (),
        keep_keys: Iterable[str] = (),
        default_keys: Iterable[str] = DEFAULT_REDACT_KEYS,
    ) -> None:
        keep = _names(keep_keys)
        self.redact_keys = _names(redact_keys) - keep
        self.keep_keys = keep
        self.captured_keys = (_names(default_keys) | self.redact_keys) - keep
        self._named: dict[str, bool] = {}
        self._captured: dict[str, bool] = {}

    def is_secret(self, key: str) -> bool:
        """Whether a value you named (a top-level field, tag, ``g`` name) under ``key`` is
        redacted: only when ``redact_keys`` names it."""
        return self._decide(key, self._named, self.redact_keys)

    def is_captured_secret(self, key: str) -> bool:
        """Whether a value Lookout captured on its own under ``key`` is redacted."""
        return self._decide(key, self._captured, self.captured_keys)

    @staticmethod
    def _decide(key: str, cache: dict[str, bool], names: frozenset[str]) -> bool:
        decision = cache.get(key)
        if decision is None:
            decision = bool(names) and normalise_key(key) in names
            if len(cache) < _CACHE_LIMIT:
                cache[key] = decision
        return decision

    def redact(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """``data`` (an event's fields or tags) with secret values replaced.

        Returns ``data`` itself when nothing in it is secret (the common case, and no copy),
        otherwise a new dict; the input is never modified. Runs for every event: with no
        ``redact_keys`` (the default) only the captured fields present are walked.
        """
        changed: dict[str, Any] | None = None
        if self.redact_keys:
            for key, value in data.items():
                clean = self._clean_item(key, value)
                if clean is not value and changed is None:
                    changed = dict(data)
                if changed is not None:
                    changed[key] = clean
            return data if changed is None else changed
        for key in CAPTURED_FIELDS:
            value = data.get(key)
            if value is None or type(value) in _SCALARS:
                continue
            clean = self._walk(value, self.is_captured_secret)
            if clean is not value:
                if changed is None:
                    changed = dict(data)
                changed[key] = clean
        return data if changed is None else changed

    def _clean_item(self, key: str, value: Any) -> Any:
        if self.is_secret(key):
            return REDACTED
        if type(value) in _SCALARS:
            return value
        decide = self.is_captured_secret if key in CAPTURED_FIELDS else self.is_secret
        return self._walk(value, decide)

    def _walk(self, value: Any, decide: Any) -> Any:
        """``value`` with the values of keys ``decide`` calls secret replaced, at any depth."""
        if isinstance(value, Mapping):
            changed: dict[str, Any] | None = None
            for key, item in value.items():
                if isinstance(key, str) and decide(key):
                    clean: Any = REDACTED
                elif type(item) in _SCALARS:
                    clean = item
                else:
                    clean = self._walk(item, decide)
                if clean is not item and changed is None:
                    changed = dict(value)
                if changed is not None:
                    changed[key] = clean
            return value if changed is None else changed
        if isinstance(value, list):
            cleaned = [self._walk(item, decide) for item in value]
            return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
        return value
