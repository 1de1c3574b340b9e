"""The servers of the sink tests (MongoDB-compatible, InfluxDB 1.x), shared here."""

from tests.sinks.conftest import influx_server, mongo_uri

__all__ = ["influx_server", "mongo_uri"]
