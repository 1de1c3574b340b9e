"""Property tests (hypothesis): whatever the value, the key or the source of a setting,
Lookout's guarantees hold: coercion gives bounded JSON that every destination can hold,
redaction replaces what it must and nothing else, settings mean the same from every source,
and only safe request ids are echoed."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookout.coerce import Limits, coerce, make_safe
from lookout.config import ConfigError, load_settings
from lookout.flask.ids import MAX_REQUEST_ID_LENGTH, is_valid_request_id
from lookout.redact import Redactor

# Any code point, lone surrogates and NUL included.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, min_codepoint=0), max_size=40)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    ANY_TEXT,
    st.binary(max_size=40),
    st.datetimes(),
    st.decimals(allow_nan=True),
    st.uuids(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=5),
        st.dictionaries(st.one_of(ANY_TEXT, st.integers()), inner, max_size=5),
    ),
    max_leaves=30,
)
LIMITS = Limits(max_value_bytes=256, max_event_bytes=4096)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (key, *_strings(item))]
    return []


@FAST
@given(VALUES)
def test_any_value_coerces_to_json_every_destination_can_hold(value: Any) -> None:
    safe = make_safe(coerce(value, LIMITS))
    text = json.dumps(safe, allow_nan=False)  # strict JSON: no NaN, no object JSON lacks
    assert json.loads(text) == safe
    for string in _strings(safe):
        string.encode("utf-8")  # no lone surrogate (UTF-8, PostgreSQL, BSON refuse them)
        assert "\x00" not in string  # PostgreSQL's text and JSON refuse NUL
        assert len(string.encode("utf-8")) <= 256 + 64  # bounded (marker included)


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no")


@FAST
@given(st.lists(st.one_of(VALUES, st.builds(Unprintable)), max_size=4))
def test_objects_whose_repr_raises_never_break_coercion(values: list[Any]) -> None:
    json.dumps(make_safe(coerce(values, LIMITS)), allow_nan=False)


KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=12)


@FAST
@given(st.dictionaries(KEYS, st.one_of(ANY_TEXT, st.integers()), min_size=1, max_size=6), KEYS)
def test_redaction_replaces_exactly_the_named_keys(fields: dict[str, Any], secret: str) -> None:
    fields = {**fields, secret: "s3cr3t value"}
    redacted = Redactor(redact_keys=[secret]).redact(fields)
    assert "s3cr3t value" not in json.dumps(redacted)
    for key, value in fields.items():
        if key.lower().replace("-", "_") != secret.lower().replace("-", "_"):
            assert redacted[key] == value  # nothing else touched


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 10**6))
def test_a_duration_means_the_same_from_code_environment_and_file(
    tmp_path_factory: pytest.TempPathFactory, seconds: float
) -> None:
    valid = isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0.005
    folder: Path = tmp_path_factory.mktemp("toml")
    toml = folder / "lookout.toml"
    toml.write_text(f"batch_interval = {float(seconds)!r}\n")  # TOML has nan and inf too
    env = {"LOOKOUT_BATCH_INTERVAL": repr(float(seconds))}
    sources = [
        lambda: load_settings({"batch_interval": seconds}, environ={}),
        lambda: load_settings(config_file=toml, environ={}),
        lambda: load_settings(environ=env),
    ]
    for index, load in enumerate(sources):
        if valid and not (index == 2 and "e" in repr(float(seconds))):  # 1e+20: not a duration
            assert load()[0].batch_interval == pytest.approx(float(seconds))
        elif not valid:
            with pytest.raises(ConfigError, match="batch_interval"):
                load()


@FAST
@given(ANY_TEXT | st.text(alphabet="abcdef0123456789-", min_size=1, max_size=200))
def test_only_safe_request_ids_are_accepted(value: str) -> None:
    if is_valid_request_id(value):
        assert 0 < len(value) <= MAX_REQUEST_ID_LENGTH
        assert value.isascii() and value.isprintable()
        assert not any(char in value for char in " \t\r\n\"',;<>\\\x00")


def test_a_date_uuid_and_decimal_are_readable_after_coercion() -> None:
    assert coerce(dt.date(2026, 12, 2)) == "2026-12-02"
    assert coerce(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert coerce(decimal.Decimal("1.50")) == "1.50"
