"""Guards for library code that runs inside the host application.

Lookout must never crash the program it observes, so every piece of Lookout code that runs in
a user's thread (or in a worker) is wrapped in :func:`swallow_internal_errors`, which logs the
error once per call site and carries on. Lookout's own test suite flips
:data:`RAISE_INTERNAL_ERRORS` so that a swallowed bug still fails a test instead of hiding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("lookout")

#: Set to True by Lookout's test suite: internal errors are re-raised instead of logged.
RAISE_INTERNAL_ERRORS = False


@contextmanager
def swallow_internal_errors(what: str) -> Iterator[None]:
    """Run a block of Lookout code so that its failure never reaches the host application."""
    try:
        yield
    except Exception:
        if RAISE_INTERNAL_ERRORS:
            raise
        logger.exception("lookout: internal error while %s (ignored)", what)


@contextmanager
def optional_dependency(extra: str, what: str) -> Iterator[None]:
    """Wrap the imports of an optional integration so that a missing package says which
    extra to install (``pip install 'lookout[extra]'``) instead of a bare import error."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{what} needs {exc.name}: pip install 'lookout[{extra}]'", name=exc.name
        ) from exc
