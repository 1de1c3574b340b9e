from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from lookout.coerce import DEFAULT_LIMITS, Limits, bound_fields, bound_str, coerce, coerce_fields

SMALL = Limits(max_value_bytes=64, max_event_bytes=512)

json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.datetimes()
    | st.decimals()
    | st.uuids(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10) | st.integers(), children, max_size=5)
        | st.frozensets(st.integers(), max_size=5)
        | st.tuples(children, children)
    ),
    max_leaves=30,
)


def _all_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _all_strings(item)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_all_strings(v)]]
    return []


@given(json_like)
def test_any_value_becomes_strict_json_with_bounded_strings(value: object) -> None:
    result = coerce(value, SMALL)
    json.dumps(result, allow_nan=False)  # raises if anything is not strict JSON
    for text in _all_strings(result):
        assert len(text.encode("utf-8", "surrogatepass")) <= SMALL.max_value_bytes


@given(st.text(min_size=0, max_size=300))
def test_bound_str_keeps_short_text_and_marks_cut_text(text: str) -> None:
    bounded = bound_str(text, 80)
    if len(text.encode("utf-8", "surrogatepass")) <= 80:
        assert bounded == text
    else:
        assert len(bounded.encode("utf-8", "surrogatepass")) <= 80
        kept_text, marker = bounded.split("…[truncated")
        assert text.startswith(kept_text)
        total = len(text.encode("utf-8", "surrogatepass"))
        kept = len(kept_text.encode("utf-8", "surrogatepass"))
        assert marker == f": kept {kept} of {total} bytes, cut {total - kept}]"


def test_the_default_limits_keep_ordinary_payloads_whole_and_say_what_they_cut() -> None:
    assert (DEFAULT_LIMITS.max_value_bytes, DEFAULT_LIMITS.max_event_bytes) == (65536, 1048576)
    assert coerce("v" * 21_000) == "v" * 21_000  # a tracked value the old 8 KiB limit cut
    cut = coerce("v" * 81_390)
    assert isinstance(cut, str) and len(cut.encode()) <= 65536
    assert cut.endswith("…[truncated: kept 65484 of 81390 bytes, cut 15906]")


def test_common_types_have_readable_forms() -> None:
    class Colour(enum.Enum):
        RED = "red"

    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    moment = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone.utc)
    fields = coerce_fields(
        {
            "when": moment,
            "day": dt.date(2026, 11, 23),
            "wait": dt.timedelta(milliseconds=1500),
            "price": decimal.Decimal("12.30"),
            "id": uuid.UUID(int=1),
            "path": PurePosixPath("/tmp/x"),
            "raw": b"hello",
            "binary": b"\xff\x00",
            "tags": {"b", "a"},
            "colour": Colour.RED,
            "point": Point(1, 2.5),
            "nan": float("nan"),
            "obj": object(),
            7: "int key",
        }
    )
    assert fields["when"] == "2026-11-23T09:30:00+00:00"
    assert fields["day"] == "2026-11-23"
    assert fields["wait"] == 1.5
    assert fields["price"] == "12.30"
    assert fields["id"] == "00000000-0000-0000-0000-000000000001"
    assert fields["path"] == "/tmp/x"
    assert fields["raw"] == "hello"
    assert fields["binary"] == "base64:/wA="
    assert fields["tags"] == ["a", "b"]
    assert fields["colour"] == "red"
    assert fields["point"] == {"x": 1, "y": 2.5}
    assert fields["nan"] == "nan"
    assert str(fields["obj"]).startswith("<object object at")
    assert fields["7"] == "int key"


def test_broken_repr_and_deep_nesting_do_not_raise() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    assert (
        coerce(Hostile())
        == "<unrepresentable test_broken_repr_and_deep_nesting_do_not_raise.<locals>.Hostile: RuntimeError>"
    )
    nested: list[object] = []
    inner = nested
    for _ in range(50):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    json.dumps(coerce(nested))
    cyclic: list[object] = []
    cyclic.append(cyclic)
    json.dumps(coerce(cyclic))


def test_bound_fields_replaces_largest_values_until_event_fits() -> None:
    fields = {"small": "x", "big": "y" * 400, "medium": "z" * 100}
    bounded = bound_fields(fields, 300)
    assert bounded["small"] == "x"
    assert bounded["medium"] == "z" * 100
    assert bounded["big"] == "…[left out: 402 bytes, the event's fields exceeded 300 bytes]"
    assert len(json.dumps(bounded)) <= 300
