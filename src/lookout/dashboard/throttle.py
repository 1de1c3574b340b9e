"""Failed-login throttling per (user name, client address) pair, with growing delays.

Counting failures per user name alone lets anyone lock the admin out by failing on purpose;
per address alone lets one address guess at every name. Keyed by the pair, an attacker's
failures slow only that attacker's own guesses at that name: the admin logging in from another
address is never held up. The first ``free`` failures of a pair cost nothing (typos); each
further one makes the pair wait twice as long as the last (``base_s``, 2x, 4x, ... up to
``max_s``), so guessing slows exponentially without a hard lock. A success clears the pair; a
pair quiet for ``forget_s`` starts again. The table is bounded (``max_pairs``, least recently
failed dropped first), so random names and addresses cannot grow memory.

State is per process: with N processes behind a balancer an attacker gets N times the guesses,
still each process's delays growing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict


@dataclasses.dataclass
class _Pair:
    failures: int = 0
    last_s: float = 0.0
    blocked_until_s: float = 0.0


class LoginThrottle:
    """How long a (user, address) pair must wait before its next login attempt."""

    def __init__(
        self,
        *,
        free: int = 3,
        base_s: float = 1.0,
        max_s: float = 900.0,
        forget_s: float = 3600.0,
        max_pairs: int = 10_000,
    ) -> None:
        self.free, self.base_s, self.max_s = free, base_s, max_s
        self.forget_s, self.max_pairs = forget_s, max_pairs
        self._pairs: OrderedDict[tuple[str, str], _Pair] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until this pair may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            pair = self._pairs.get((user, address))
            return 0.0 if pair is None else max(0.0, pair.blocked_until_s - now)

    def failed(self, user: str, address: str) -> float:
        """Count a failure; returns the delay it imposes on the pair's next attempt."""
        now = time.monotonic()
        key = (user, address)
        with self._lock:
            pair = self._pairs.pop(key, None)
            if pair is None or now - pair.last_s > self.forget_s:
                pair = _Pair()
            self._pairs[key] = pair  # most recently failed last
            while len(self._pairs) > self.max_pairs:
                self._pairs.popitem(last=False)
            pair.failures += 1
            pair.last_s = now
            over = pair.failures - self.free
            delay = 0.0 if over <= 0 else min(self.max_s, self.base_s * 2 ** min(over - 1, 40))
            pair.blocked_until_s = now + delay
            return delay

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._pairs.pop((user, address), None)
