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

import collections.abc
import importlib
import inspect
import types
import typing
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
    check_option_types(target_class, options, f"{what} {kind!r}")
    return target_class(**options)


def check_option_types(target_class: Any, options: Mapping[str, Any], where: str) -> None:
    """Refuse an option whose value does not fit the constructor's annotation (``url = 5``,
    ``timeout = "abc"``), naming the option and the value, before the class is built: a wrong
    type would otherwise fail later, on every write, or as an AttributeError at start."""
    try:
        hints = typing.get_type_hints(target_class.__init__)
    except Exception:  # an annotation that cannot be resolved here: nothing to check against
        return
    for name, value in options.items():
        hint = hints.get(name)
        if hint is not None and not _fits(value, hint):
            raise ValueError(
                f"{where}: option {name} = {value!r} is not valid; expected {_describe(hint)}"
            )


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits ``hint`` as far as configuration values go (no deep checks of
    callables' signatures): unions, Optional, Literal, the abstract collections, plain types."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(value, member) for member in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if origin is not None:
        if origin is collections.abc.Callable:
            return callable(value)
        hint = origin
    if not isinstance(hint, type):
        return True  # a TypeVar, a Protocol alias...: not a configuration value's concern
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (collections.abc.Sequence, collections.abc.Collection) and isinstance(value, str):
        return False  # a string is a sequence of characters, never a list of values here
    try:
        return isinstance(value, hint)
    except TypeError:  # a Protocol that is not runtime-checkable
        return True


def _describe(hint: Any) -> str:
    text = str(hint).replace("typing.", "").replace("collections.abc.", "")
    return text.replace("<class '", "").replace("'>", "")
