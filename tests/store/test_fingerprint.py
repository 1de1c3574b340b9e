"""Fingerprints of real exceptions: what groups together and what does not."""

from __future__ import annotations

import json
from typing import Any

from lookout.events import describe_error
from lookout.store.fingerprint import fingerprint, frames, is_app_path, mask, module_of


def _load_price(catalog: dict[str, int], sku: str) -> int:
    return catalog[sku]  # the bug: a missing SKU


def _checkout(sku: str) -> int:
    return _load_price({}, sku)


def _refund(sku: str) -> int:
    return -_load_price({}, sku)


def _load_stock(stock: dict[str, int], sku: str) -> int:
    return stock[sku]  # another frame raising the same type


def _parse(body: str) -> Any:
    return json.loads(body)  # raises inside the standard library


def _captured(call: Any, *args: Any) -> tuple[str, str, str]:
    try:
        call(*args)
    except Exception as error:
        return describe_error(error)
    raise AssertionError("expected an exception")


def _print_of(call: Any, *args: Any) -> str:
    error_type, message, traceback = _captured(call, *args)
    return fingerprint(error_type, message, traceback, "/shop", 500).key


def test_the_same_bug_from_two_call_paths_is_one_group() -> None:
    from_checkout = _captured(_checkout, "A-1")
    from_refund = _captured(_refund, "B-2")
    assert from_checkout[2] != from_refund[2]  # different stacks, different messages
    first = fingerprint(*from_checkout, "/checkout", 500)
    second = fingerprint(*from_refund, "/refund", 500)
    assert first.key == second.key
    assert first.error_type == "KeyError"
    assert first.culprit == "store.test_fingerprint._load_price"


def test_a_different_frame_or_type_is_another_group() -> None:
    assert _print_of(_checkout, "A-1") != _print_of(_load_stock, {}, "A-1")
    assert _print_of(_checkout, "A-1") != _print_of(_parse, "{")


def test_library_frames_are_dropped_and_line_numbers_ignored() -> None:
    error_type, message, traceback = _captured(_parse, "{")
    stack = frames(traceback)
    assert [frame.is_app for frame in stack][-1] is False  # json's own frames
    found = fingerprint(error_type, message, traceback, "/parse", 500)
    assert found.culprit == "store.test_fingerprint._parse"
    assert error_type == "json.decoder.JSONDecodeError"
    moved = traceback.replace(", line ", ", line 1")  # the same code, moved by a deploy
    assert fingerprint(error_type, message, moved, "/parse", 500).key == found.key
    # the same code under another root on another host keeps its group
    elsewhere = traceback.replace(str(__file__).rsplit("/store/", 1)[0], "/srv/app")
    assert fingerprint(error_type, message, elsewhere, "/parse", 500).key == found.key


def test_library_and_interpreter_paths() -> None:
    assert not is_app_path("/srv/.venv/lib/python3.12/site-packages/flask/app.py")
    assert not is_app_path("/usr/lib/python3/dist-packages/requests/api.py")
    assert not is_app_path("/usr/lib/python3.12/json/decoder.py")
    assert not is_app_path("<frozen importlib._bootstrap>")
    assert not is_app_path(describe_error.__code__.co_filename)  # Lookout's own frames
    assert is_app_path("/srv/shop/shop/views.py")
    assert module_of("/srv/shop/shop/views.py") == "shop.views"
    assert module_of("/srv/shop/shop/__init__.py") == "shop"


def test_messages_without_traceback_group_once_masked() -> None:
    texts = [
        "order 1234 not found for 'alice@example.com'",
        "order 98 not found for 'bob'",
    ]
    assert mask(texts[0]) == mask(texts[1]) == "order <n> not found for '?'"
    assert (
        mask("lock 3f2a9c1e-5b7d-4c8e-9f10-112233445566 held by 0x7f3a at deadbeef42")
        == "lock <uuid> held by <hex> at <hex>"
    )
    assert mask("mail to ann@example.org failed") == "mail to <email> failed"
    keys = {fingerprint("TimeoutError", text, None, "/x", None).key for text in texts}
    assert len(keys) == 1
    other = fingerprint("TimeoutError", "connection refused", None, "/x", None)
    assert other.key not in keys
    assert fingerprint("ValueError", texts[0], None, "/x", None).key not in keys


def test_a_5xx_without_exception_groups_by_endpoint_and_status() -> None:
    first = fingerprint(None, None, None, "/orders", 503)
    assert first == fingerprint(None, None, None, "/orders", 503)
    assert first.error_type == "HTTP 503" and first.culprit == "/orders"
    assert first.key != fingerprint(None, None, None, "/orders", 502).key
    assert first.key != fingerprint(None, None, None, "/users", 503).key


def test_a_chained_traceback_is_grouped_by_its_last_exception() -> None:
    def wrap() -> None:
        try:
            _checkout("A-1")
        except KeyError as error:
            raise RuntimeError("checkout failed") from error

    error_type, message, traceback = _captured(wrap)
    assert "KeyError" in traceback
    found = fingerprint(error_type, message, traceback, "/x", 500)
    assert found.error_type == "RuntimeError"
    assert found.culprit == "store.test_fingerprint.wrap"
