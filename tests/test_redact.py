from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lookout.redact import REDACTED, Redactor

SECRET_KEYS = [
    "Authorization",
    "cookie",
    "X-Api-Key",
    "api_key",
    "apikey",
    "user_password",
    "passwd",
    "client_secret",
    "access_token",
    "sessionid",
    "Set-Cookie",
]


def test_default_pattern_redacts_secret_looking_keys_at_any_depth() -> None:
    redactor = Redactor()
    data = dict.fromkeys(SECRET_KEYS, "s3cret")
    data["user_id"] = "42"
    data["headers"] = {"Authorization": "Bearer abc", "Accept": "text/html"}  # type: ignore[assignment]
    data["items"] = [{"token": "t"}, {"sku": "A1"}]  # type: ignore[assignment]
    cleaned = redactor.redact(data)
    for key in SECRET_KEYS:
        assert cleaned[key] == REDACTED
    assert cleaned["user_id"] == "42"
    assert cleaned["headers"] == {"Authorization": REDACTED, "Accept": "text/html"}
    assert cleaned["items"] == [{"token": REDACTED}, {"sku": "A1"}]
    assert data["headers"]["Authorization"] == "Bearer abc"  # type: ignore[index]  # input untouched


@given(
    st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=10),
    st.sampled_from(SECRET_KEYS),
    st.text(min_size=1, max_size=30),
)
def test_a_secret_value_never_survives(data: dict[str, str], key: str, secret: str) -> None:
    data = {**data, key: secret}
    cleaned = Redactor().redact({"nested": data, key: secret})
    assert cleaned[key] == REDACTED
    assert cleaned["nested"][key] == REDACTED


def test_custom_and_empty_patterns() -> None:
    custom = Redactor("ssn|iban")
    assert custom.redact({"SSN": "1", "token": "2"}) == {"SSN": REDACTED, "token": "2"}
    assert Redactor("").redact({"password": "p"}) == {"password": "p"}
