"""Replace secrets before any event leaves the process.

Redaction is by key name: a header, ``g`` variable, tag or extra field whose name matches the
pattern has its value replaced, at any depth of nested mappings. Decisions are cached per key
because the same few names (``user_id``, ``Authorization``) come back on every request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DEFAULT_REDACT_PATTERN = (
    r"authorization|cookie|password|passwd|secret|token|api[-_]?key|apikey|session"
)
REDACTED = "[REDACTED]"
_CACHE_LIMIT = 4096
#: Values that hold no keys, so nothing inside them can be secret.
_SCALARS = frozenset({str, int, float, bool, type(None)})


class Redactor:
    """Replaces the values of secret-looking keys, case-insensitively.

    Args:
        pattern: a regular expression searched (not matched) in each key; an empty pattern
            disables redaction.
    """

    def __init__(self, pattern: str = DEFAULT_REDACT_PATTERN) -> None:
        self.pattern = pattern
        self._regex = re.compile(pattern, re.IGNORECASE) if pattern else None
        self._decisions: dict[str, bool] = {}

    def is_secret(self, key: str) -> bool:
        decision = self._decisions.get(key)
        if decision is None:
            decision = bool(self._regex and self._regex.search(key))
            if len(self._decisions) < _CACHE_LIMIT:
                self._decisions[key] = decision
        return decision

    def redact(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """``data`` with secret values replaced, at any depth of mappings and lists.

        Returns ``data`` itself when nothing in it is secret (the common case, and no copy),
        otherwise a new dict; the input is never modified. Runs for every event: a key seen
        before and a scalar value cost two lookups.
        """
        decisions = self._decisions
        changed: dict[str, Any] | None = None
        for key, value in data.items():
            secret = decisions.get(key)
            if secret is None:
                secret = self.is_secret(key)
            if secret:
                clean: Any = REDACTED
            elif type(value) in _SCALARS:
                clean = value
            else:
                clean = self._redact_value(value)
            if clean is not value and changed is None:
                changed = dict(data)
            if changed is not None:
                changed[key] = clean
        return data if changed is None else changed

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return self.redact(value)
        if isinstance(value, list):
            cleaned = [self._redact_value(item) for item in value]
            return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
        return value
