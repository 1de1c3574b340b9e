"""Turn arbitrary Python values into bounded, JSON-safe values at capture time.

Values are coerced when they are captured (not later in a worker) so that what is recorded is
what the value was at that moment, and so that no sink ever meets an object it cannot store.
Every string is bounded in UTF-8 bytes and marked where it was cut.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import math
import pathlib
import uuid
from collections.abc import Mapping
from typing import Any, TypeAlias

from lookout.jsontext import to_json_bytes

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"

#: Ends a cut string: how many UTF-8 bytes were kept and how many cut (of the value's own
#: bytes; the marker itself is within the limit).
TRUNCATION_MARKER = "…[truncated: kept {kept} of {total} bytes, cut {cut}]"
MAX_DEPTH = 8
MAX_ITEMS = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Size bounds applied to captured data (settings ``max_value_bytes``, ``max_event_bytes``).

    The defaults are high enough for ordinary payloads (a JSON document, a stack, a long SQL
    statement) and low enough that one runaway value cannot fill the queue's memory.

    Attributes:
        max_value_bytes: longest UTF-8 string kept for one value (longer ones are cut, ending
            with :data:`TRUNCATION_MARKER`).
        max_event_bytes: largest JSON size of an event's fields; the biggest fields are replaced
            by a marker saying their size until the event fits.
    """

    max_value_bytes: int = 64 * 1024
    max_event_bytes: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


def bound_str(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes, marker included."""
    if len(text) * 4 <= max_bytes:  # cannot exceed: a code point is at most 4 bytes
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= max_bytes:
        return text
    total = len(raw)
    # room for the marker at its longest (every number as long as the total), so it fits
    longest = len(TRUNCATION_MARKER.format(kept=total, total=total, cut=total).encode())
    kept = raw[: max(0, max_bytes - longest)].decode("utf-8", "ignore")
    kept_bytes = len(kept.encode("utf-8", "surrogatepass"))
    return kept + TRUNCATION_MARKER.format(kept=kept_bytes, total=total, cut=total - kept_bytes)


def safe_text(text: str) -> str:
    """``text`` without what destinations refuse: a lone surrogate (``os.fsdecode`` of a
    non-UTF-8 file name) becomes U+FFFD, as does a NUL character (PostgreSQL's text and JSON
    cannot hold one). Returns ``text`` itself, at the cost of two scans, when it is clean."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Paired surrogates become the character they stand for; lone ones U+FFFD.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def make_safe(value: Any) -> Any:
    """``value`` with :func:`safe_text` applied to every string in it (keys too): the same
    object when nothing needed a change. Tuples keep their type (named tuples such as Event
    too), so an event comes back as an event."""
    cls = type(value)
    if cls is str:
        return safe_text(value)
    if cls is dict:
        changed = False
        out: dict[Any, Any] = {}
        for key, item in value.items():
            safe_key, safe_item = make_safe(key), make_safe(item)
            changed = changed or safe_key is not key or safe_item is not item
            out[safe_key] = safe_item
        return out if changed else value
    if cls is list or isinstance(value, tuple):
        items = [make_safe(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if cls is list:
            return items
        make = getattr(cls, "_make", None)
        return make(items) if make is not None else cls(items)
    return value


def _safe_repr(value: object, max_bytes: int) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the call being recorded
        text = f"<unrepresentable {type(value).__qualname__}: {type(exc).__name__}>"
    return bound_str(text, max_bytes)


def coerce(value: Any, limits: Limits = DEFAULT_LIMITS, _depth: int = 0) -> JSONValue:
    """Return a JSON-safe copy of ``value``.

    datetimes become ISO 8601 strings, Decimal and UUID strings, bytes text (or base64 when not
    UTF-8), sets sorted lists, dataclasses and mappings dicts with string keys, NaN and
    infinities strings, and anything else its truncated ``repr``.
    """
    max_bytes = limits.max_value_bytes
    if value is None or value is True or value is False:
        return value
    cls = type(value)
    if cls is str:
        return bound_str(value, max_bytes)
    if cls is int:
        return value  # type: ignore[no-any-return]
    if cls is float:
        return value if math.isfinite(value) else repr(value)
    if _depth >= MAX_DEPTH:
        return _safe_repr(value, max_bytes)
    if isinstance(value, enum.Enum):
        return coerce(value.value, limits, _depth + 1)
    if isinstance(value, str):
        return bound_str(str.__str__(value), max_bytes)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return coerce(float(value), limits, _depth)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID, pathlib.PurePath)):
        return bound_str(str(value), max_bytes)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = "base64:" + base64.b64encode(raw).decode("ascii")
        return bound_str(text, max_bytes)
    if isinstance(value, Mapping):
        return _coerce_mapping(value.items(), limits, _depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = ((f.name, getattr(value, f.name, None)) for f in dataclasses.fields(value))
        return _coerce_mapping(items, limits, _depth)
    if isinstance(value, (set, frozenset)):
        members = list(value)
        try:
            members.sort()
        except TypeError:
            members.sort(key=repr)
        return _coerce_sequence(members, limits, _depth)
    if isinstance(value, (list, tuple)):
        return _coerce_sequence(value, limits, _depth)
    return _safe_repr(value, max_bytes)


def _coerce_sequence(items: Any, limits: Limits, depth: int) -> list[JSONValue]:
    out: list[JSONValue] = []
    for index, item in enumerate(items):
        if index >= MAX_ITEMS:
            out.append(f"…[{len(items) - MAX_ITEMS} more items]")
            break
        out.append(coerce(item, limits, depth + 1))
    return out


def _coerce_mapping(items: Any, limits: Limits, depth: int) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {}
    for index, (key, item) in enumerate(items):
        if index >= MAX_ITEMS:
            out["…"] = "[more items left out]"
            break
        name = key if type(key) is str else str(coerce(key, limits, MAX_DEPTH - 1))
        out[bound_str(name, limits.max_value_bytes)] = coerce(item, limits, depth + 1)
    return out


def coerce_fields(
    fields: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS
) -> dict[str, JSONValue]:
    """Coerce a mapping of named values (an event's fields)."""
    return _coerce_mapping(fields.items(), limits, 0)


def _size_upper_bound(fields: Mapping[str, Any]) -> int:
    """A cheap upper bound of the JSON size of flat fields, or a huge number when nested.

    Escaping can grow a character to six (``\\u0000``), so strings count six per character;
    serialising is only needed when this bound is over the limit.
    """
    total = 2
    for key, value in fields.items():
        total += 6 * len(key) + 4
        kind = type(value)
        if kind is str:
            total += 6 * len(value) + 2
        elif kind is int:
            total += 32 if value.bit_length() < 100 else 4096
        elif kind is float or kind is bool or value is None:
            total += 32
        elif isinstance(value, str):
            total += 6 * len(value) + 2
        elif isinstance(value, (bool, int, float)):
            total += 32 if not isinstance(value, int) or value.bit_length() < 100 else 4096
        else:
            return 1 << 62  # nested: measure it properly
    return total


def bound_fields(fields: Mapping[str, Any], max_bytes: int) -> Mapping[str, Any]:
    """Keep an event's fields within ``max_bytes`` of JSON by replacing the largest values.

    Whole values are replaced (rather than cut mid-structure) so that what remains is still
    meaningful; each replaced value says how large it was.
    """
    if not fields or _size_upper_bound(fields) <= max_bytes:
        return fields
    if len(to_json_bytes(fields)) <= max_bytes:  # nested, but small: the common case
        return fields
    sizes = {key: len(to_json_bytes(value)) for key, value in fields.items()}
    total = sum(sizes.values()) + sum(len(key) + 4 for key in fields) + 2
    if total <= max_bytes:
        return fields
    bounded = dict(fields)
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        marker = f"…[left out: {sizes[key]} bytes, the event's fields exceeded {max_bytes} bytes]"
        bounded[key] = marker
        total -= sizes[key] - len(marker) - 2
        if total <= max_bytes:
            break
    return bounded
