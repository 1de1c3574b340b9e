from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lookout import Lookout
from lookout.events import HOSTNAME
from lookout.flask import LookoutFlask
from lookout.flask.request_events import RequestRows, client_ip, portable_request
from lookout.portable import RowContext
from lookout.sinks.console import LoggingSink
from lookout.store.tail import events_after

LONG_PREFIX = "r" * 1100


@pytest.mark.parametrize("road", ["portable", "events"])
def test_method_rule_and_path_are_stored_bounded(tmp_path: Path, road: str) -> None:
    """The request's thread queues the request's own strings; they are bounded on the way to
    the store, on both roads (a portable tuple, or an Event when another sink needs one)."""
    lookout = Lookout(
        store=f"sqlite:///{tmp_path / 'b.db'}",
        sinks=[LoggingSink("lookout.test.silent")] if road == "events" else [],
    )
    try:
        assert lookout.recorder._forward_portable is (road == "portable")
        app = Flask("bounds")
        LookoutFlask(app, lookout)

        @app.route(f"/{LONG_PREFIX}/<path:rest>")
        def deep(rest: str) -> str:
            return "ok"

        client = app.test_client()
        assert client.get(f"/{LONG_PREFIX}/" + "p" * 3000).status_code == 200
        assert client.open("/x", method="PROPFINDPROPFINDPROPFIND").status_code in (404, 405)
        assert lookout.flush(30)
        assert lookout.store is not None
        events, _ = events_after(lookout.store, 0)
    finally:
        lookout.close()
    by_name = {event.name: event for event in events}
    deep_request, odd_method = by_name["deep"], by_name["[unmatched]"]
    assert deep_request.status == 200 and deep_request.outcome == "ok"
    assert deep_request.fields["path"] == (f"/{LONG_PREFIX}/" + "p" * 3000)[:1024]
    assert deep_request.fields["rule"] == f"/{LONG_PREFIX}/<path:rest>"[:1024]
    assert odd_method.fields["method"] == "PROPFINDPROPFIND"  # 16 characters
    assert odd_method.tags == {"method": "PROPFINDPROPFIND"}


@pytest.mark.parametrize(
    ("status_line", "code"),
    [("200 OK", 200), ("503 SERVICE UNAVAILABLE", 503), ("2²² ODD", 500), ("OK", 500), ("", 500)],
)
def test_a_status_line_that_does_not_start_with_three_digits_counts_as_500(
    status_line: str, code: int
) -> None:
    captured = ("source", 0, 1, "home", "GET", status_line, 2, "rid", None, "10.0.0.1", None)
    captured += ("/", "/", None, None, None, None)
    assert portable_request(captured, 0, 1, None, 0)[4] == code


@pytest.mark.parametrize(
    ("forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", 0, "10.0.0.1"),  # no proxy trusted: the header could be anyone's
        ("203.0.113.9", 1, "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9", 1, "203.0.113.9"),  # the left one could be forged
        ("198.51.100.1, 203.0.113.9", 2, "198.51.100.1"),
        ("203.0.113.9", 2, "10.0.0.1"),  # fewer hops than trusted proxies: not believed
        (None, 1, "10.0.0.1"),
    ],
)
def test_the_client_ip_believes_forwarded_for_only_as_far_as_proxies_are_trusted(
    forwarded: str | None, trusted: int, expected: str
) -> None:
    captured = ("source", 0, 1, "home", "GET", "200 OK", 2, "rid", None, "10.0.0.1", forwarded)
    captured += ("/", "/", None, None, None, None)
    assert portable_request(captured, 0, 1, None, trusted)[7] == expected
    assert client_ip("10.0.0.1", forwarded, trusted) == expected


def _portable(endpoint: str, pid: int, version: str | None, status: int = 200) -> tuple[Any, ...]:
    captured = ("source", 10, 25, endpoint, "GET", f"{status} X", 7, "rid", None, "10.0.0.1", None)
    captured += ("/p", "/p", "curl/8.0", None, None, None)
    return portable_request(captured, 1_000, pid, version, 0)


def test_request_rows_refer_to_each_item_s_own_name_and_source() -> None:
    """Rows are made straight from portable requests, remembering the last source's id: items
    of two processes and versions, interleaved, still get their own."""
    name_ids = {("request", "home"): 1, ("request", "cart"): 2}
    source_ids = {(HOSTNAME, 11, "v1"): 5, (HOSTNAME, 12, ""): 6, (HOSTNAME, 11, "v2"): 7}
    rows = RequestRows(RowContext(name_ids, source_ids, 0, ""))
    items = [
        _portable("home", 11, "v1"),
        _portable("cart", 12, None, status=503),
        _portable("home", 11, "v2"),
        _portable("home", 11, "v1"),
    ]
    made = [rows.row(item) for item in items]
    assert [(row[0], row[5]) for row in made] == [(1, 5), (2, 6), (1, 7), (1, 5)]
    assert [(row[3], row[4]) for row in made] == [(0, 200), (1, 503), (0, 200), (0, 200)]
    assert made[0][1:3] == (1_010, 15)  # start on the wall clock, duration
    assert made[0][9] == '{"method":"GET"}'
    assert json.loads(made[0][10]) == {
        "method": "GET",
        "path": "/p",
        "rule": "/p",
        "response_bytes": 7,
        "user_agent": "curl",
    }
    assert made[0][11:] == (0, 0, 0, "")  # no error and no group: NULL as SQLite binds it
    assert rows.keys(items[1]) == (("request", "cart"), (HOSTNAME, 12, ""))


def test_a_request_row_waits_for_its_name_and_source_ids() -> None:
    """KeyError until the writer has stored the name or source (it then registers and retries)."""
    name_ids: dict[tuple[str, str], int] = {}
    source_ids: dict[tuple[str, int, str], int] = {}
    rows = RequestRows(RowContext(name_ids, source_ids, None, None))
    item = _portable("home", 11, None)
    with pytest.raises(KeyError):
        rows.row(item)
    name_ids[("request", "home")] = 3
    with pytest.raises(KeyError):
        rows.row(item)
    source_ids[(HOSTNAME, 11, "")] = 4
    assert rows.row(item)[0] == 3 and rows.row(item)[5] == 4
