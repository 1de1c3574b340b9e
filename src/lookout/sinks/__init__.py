"""Destinations for events. Each sink maps events to one destination's native form."""

from lookout.sinks.base import Sink

__all__ = ["Sink"]
