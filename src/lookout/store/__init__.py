"""The SQL store: raw events, rollups and settings, read by the CLI and the dashboard."""

from lookout.store.engine import SqlStore

__all__ = ["SqlStore"]
