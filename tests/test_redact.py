"""The redaction policy: captured data by an exact default list, named values as given."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lookout.redact import DEFAULT_REDACT_KEYS, REDACTED, Redactor, normalise_key

SECRET_HEADERS = [
    "Authorization",
    "Cookie",
    "Set-Cookie",
    "X-Api-Key",
    "api_key",
    "apikey",
    "passwd",
    "client_secret",
    "access_token",
    "sessionid",
    "X-CSRFToken",
    "Private-Key",
]


def test_captured_headers_and_arguments_are_redacted_by_exact_names() -> None:
    headers = dict.fromkeys(SECRET_HEADERS, "s3cret")
    headers["Accept"] = "text/html"
    headers["X-Session-Count"] = "3"  # contains "session", but is not a listed name
    fields = {
        "outlier": {
            "headers": headers,
            "args": {"token": ["abc"], "max_tokens": ["512"], "page": ["2"]},
            "stacks": ["a"],
        },
        "path": "/x",
    }
    cleaned = Redactor().redact(fields)
    for name in SECRET_HEADERS:
        assert cleaned["outlier"]["headers"][name] == REDACTED, name
    assert cleaned["outlier"]["headers"]["Accept"] == "text/html"
    assert cleaned["outlier"]["headers"]["X-Session-Count"] == "3"
    assert cleaned["outlier"]["args"] == {"token": REDACTED, "max_tokens": ["512"], "page": ["2"]}
    assert headers["Authorization"] == "s3cret"  # the input is untouched


def test_values_the_user_named_are_kept_unless_redact_keys_names_them() -> None:
    named = {
        "g": {"session_id": "abc", "user_id": "123"},
        "max_tokens": 512,
        "session_count": 3,
        "password": "as given",
        "nested": {"token": "t", "items": [{"secret": "s"}]},
    }
    assert Redactor().redact(named) is named  # nothing changed: no copy
    strict = Redactor(redact_keys=["Session-ID", "secret"])
    cleaned = strict.redact(named)
    assert cleaned["g"] == {"session_id": REDACTED, "user_id": "123"}
    assert cleaned["nested"] == {"token": "t", "items": [{"secret": REDACTED}]}
    assert cleaned["password"] == "as given" and cleaned["session_count"] == 3
    assert strict.is_secret("SESSION_ID") and not Redactor().is_secret("password")


def test_keep_keys_wins_over_the_default_list_and_redact_keys() -> None:
    redactor = Redactor(redact_keys=["ssn"], keep_keys=["session", "SSN"])
    cleaned = redactor.redact(
        {"outlier": {"headers": {"Session": "visible", "Cookie": "c"}}, "ssn": "1"}
    )
    assert cleaned == {
        "outlier": {"headers": {"Session": "visible", "Cookie": REDACTED}},
        "ssn": "1",
    }


def test_names_are_compared_normalised_and_the_default_list_is_normalised() -> None:
    assert normalise_key(" X-Api-Key ") == "x_api_key"
    assert all(name == normalise_key(name) for name in DEFAULT_REDACT_KEYS)
    redactor = Redactor()
    assert redactor.is_captured_secret("X-API-KEY") and redactor.is_captured_secret("set_cookie")
    assert not redactor.is_captured_secret("tokens") and not redactor.is_captured_secret(
        "my_password"
    )


@given(
    st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=10),
    st.sampled_from(SECRET_HEADERS),
    st.text(min_size=1, max_size=30),
)
def test_a_captured_secret_never_survives(data: dict[str, str], key: str, secret: str) -> None:
    data = {**data, key: secret}
    cleaned = Redactor().redact({"outlier": {"headers": data, "deeper": [{key: secret}]}})
    assert cleaned["outlier"]["headers"][key] == REDACTED
    assert cleaned["outlier"]["deeper"][0][key] == REDACTED


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=10))
def test_named_values_are_never_changed_by_default(data: dict[str, str]) -> None:
    assert Redactor().redact({"g": data, **{k: v for k, v in data.items() if k != "outlier"}}) == {
        "g": data,
        **{k: v for k, v in data.items() if k != "outlier"},
    }
