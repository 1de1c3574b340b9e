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


def validate_sink_spec(
    spec: object,
    where: str,
    types: Mapping[str, tuple[str, str]] = SINK_TYPES,
    what: str = "sink",
) -> dict[str, Any]:
    """Check a table's shape (type known) without building it."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: expected a table with a 'type' key; got {spec!r}")
    kind = spec.get("type")
    if kind not in types:
        raise ValueError(
            f"{where}: type {kind!r} is not a {what} type; choose one of {', '.join(types)}"
        )
    return dict(spec)


def build_sink(
    spec: Mapping[str, Any],
    types: Mapping[str, tuple[str, str]] = SINK_TYPES,
    what: str = "sink",
) -> Any:
    """Build the sink (or, with other ``types``, the notifier) a configuration table describes.

    Raises:
        ValueError: unknown type, or options the class does not take (named in the message).
        ModuleNotFoundError: the optional dependency is missing (says which extra).
    """
    options = dict(spec)
    kind = options.pop("type", None)
    if kind not in types:
        raise ValueError(f"{what} type {kind!r} is unknown; choose one of {', '.join(types)}")
    module_name, class_name = types[kind]
    target_class = getattr(importlib.import_module(module_name), class_name)
    accepted = inspect.signature(target_class).parameters
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise ValueError(
            f"{what} {kind!r}: unknown option {unknown[0]!r}; it takes "
            f"{', '.join(name for name in accepted if name != 'self')}"
        )
    return target_class(**options)
