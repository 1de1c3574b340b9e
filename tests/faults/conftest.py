"""Fault tests share the sink tests' servers (a MongoDB stand-in, a real influxd)."""

from __future__ import annotations

from tests.sinks.conftest import influx_server, mongo_uri

__all__ = ["influx_server", "mongo_uri"]
