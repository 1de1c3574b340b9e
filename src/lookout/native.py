"""Which of Lookout's per-request modules run compiled (mypyc), and which as plain Python.

A normal install compiles them when a C compiler is at hand (setup.py, docs/native.md); the
Python source is the fallback, and behaves the same. This tells which one is running, for
``lookout --version``, benchmark reports and bug reports.
"""

from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES

#: The modules setup.py compiles: what runs for every recorded request or stored event.
COMPILED_MODULES = (
    "lookout.flask.context",
    "lookout.flask.extension",
    "lookout.flask.ids",
    "lookout.flask.levels",
    "lookout.flask.middleware",
    "lookout.flask.options",
    "lookout.flask.request_events",
    "lookout.flask.sources",
    "lookout.flask.streaming",
    "lookout.flask.tracking",
    "lookout.flask.watching",
    "lookout.recorder",
    "lookout.sink_ledger",
    "lookout.sink_queue",
    "lookout.sink_worker",
    "lookout.store.error_groups",
    "lookout.store.rollups",
    "lookout.store.sketch",
    "lookout.store.writer",
)


def is_compiled(module_name: str) -> bool:
    """True when the module was loaded from a C extension rather than its Python source."""
    module = importlib.import_module(module_name)
    return (getattr(module, "__file__", None) or "").endswith(tuple(EXTENSION_SUFFIXES))


def compiled_modules() -> dict[str, bool]:
    """Each module of :data:`COMPILED_MODULES`, and whether it runs compiled. Imports them
    (Flask's included): call it where Flask is installed."""
    return {name: is_compiled(name) for name in COMPILED_MODULES}


def summary() -> str:
    """One line: "compiled (mypyc)", "pure Python", or which modules are compiled."""
    try:
        state = compiled_modules()
    except ImportError as exc:  # lookout.flask without Flask installed
        return f"unknown ({exc})"
    if all(state.values()):
        return "compiled (mypyc)"
    if not any(state.values()):
        return "pure Python"
    return "partly compiled: " + ", ".join(name for name, done in state.items() if done)
