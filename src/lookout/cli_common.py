"""What the ``lookout`` commands share: the consoles, exit codes, and store and duration options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console

from lookout.config import ConfigError, parse_duration

#: Tables are wide; when output is a pipe or a CI log, do not squeeze them into 80 columns.
console = Console(width=None if Console().is_terminal else 120)
err_console = Console(stderr=True)

#: Exit codes: 0 success, 1 a check failed, 2 usage or configuration error.
EXIT_FAILED = 1
EXIT_CONFIG = 2


def duration_option(_ctx: Any, _param: Any, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected {exc}") from None


def check_store_exists(url: str, *, create: bool = False) -> str:
    """A command that reads a store must not make an empty one from a mistyped path.

    SQLite creates a database file (and Lookout its folder) on first connection, so a typo
    in ``--store`` would answer "nothing recorded" from a new file; this says what is wrong
    instead, unless the user asked for a new store with ``--create``.
    """
    from lookout.store.clickhouse.url import is_clickhouse_url
    from lookout.store.engine import normalize_url

    if is_clickhouse_url(url):
        return url
    parsed = normalize_url(url)
    if create or parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(str(parsed.database)).expanduser()
    if not path.exists():
        missing = path.parent if not path.parent.exists() else path
        raise ConfigError(
            f"store: no SQLite store at {str(path)!r} ({str(missing)!r} does not exist); "
            "check the path, or pass --create to start a new, empty store"
        )
    return url


def open_store(url: str) -> Any:
    from lookout.store.opening import open_store as open_any

    return open_any(check_store_exists(url))
