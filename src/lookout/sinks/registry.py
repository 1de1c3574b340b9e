"""Sinks named in configuration: ``[[sinks]]`` tables in lookout.toml, or LOOKOUT_SINKS.

    [[sinks]]
    type = "http"
    url = "https://collector.example/ingest"
    gzip_body = true

Each table's ``type`` picks the sink; the other keys are its constructor's keyword arguments.
Modules are imported only for the types used, so an optional dependency is needed only when
its sink is configured.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from lookout.sinks.base import Sink

#: type -> (module, class)
SINK_TYPES = {
    "http": ("lookout.sinks.http", "HttpSink"),
    "log": ("lookout.sinks.console", "LoggingSink"),
    "prometheus": ("lookout.sinks.prometheus", "PrometheusSink"),
    "otlp": ("lookout.sinks.otlp", "OtlpSink"),
    "cloudwatch": ("lookout.sinks.cloudwatch", "CloudWatchSink"),
    "mongo": ("lookout.sinks.mongo", "MongoSink"),
    "influx": ("lookout.sinks.influx", "InfluxSink"),
}


def validate_sink_spec(spec: object, where: str) -> dict[str, Any]:
    """Check a sink table's shape (type known, options accepted) without building it."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: expected a table with a 'type' key; got {spec!r}")
    kind = spec.get("type")
    if kind not in SINK_TYPES:
        raise ValueError(
            f"{where}: type {kind!r} is not a sink type; choose one of {', '.join(SINK_TYPES)}"
        )
    return dict(spec)


def build_sink(spec: Mapping[str, Any]) -> Sink:
    """Build the sink a configuration table describes.

    Raises:
        ValueError: unknown type, or options the sink does not take (named in the message).
        ModuleNotFoundError: the sink's optional dependency is missing (says which extra).
    """
    options = dict(spec)
    kind = options.pop("type", None)
    if kind not in SINK_TYPES:
        raise ValueError(f"sink type {kind!r} is unknown; choose one of {', '.join(SINK_TYPES)}")
    module_name, class_name = SINK_TYPES[kind]
    sink_class = getattr(importlib.import_module(module_name), class_name)
    accepted = inspect.signature(sink_class).parameters
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise ValueError(
            f"sink {kind!r}: unknown option {unknown[0]!r}; it takes "
            f"{', '.join(name for name in accepted if name != 'self')}"
        )
    sink: Sink = sink_class(**options)
    return sink
