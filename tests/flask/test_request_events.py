from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from lookout import Lookout
from lookout.flask import LookoutFlask
from lookout.flask.request_events import (
    MAX_SHARED_FIELDS,
    RequestNaming,
    client_ip,
    request_values,
)
from lookout.sinks.console import LoggingSink
from lookout.store.queries import summarize
from lookout.store.tail import events_after

LONG_PREFIX = "r" * 1100


@pytest.mark.parametrize("beside", ["store alone", "store and a log sink"])
def test_method_rule_and_path_are_stored_bounded(tmp_path: Path, beside: str) -> None:
    """The request's thread queues the request's own strings; they are bounded on the way to
    the store, whatever other sinks take the same Events."""
    lookout = Lookout(
        store=f"sqlite:///{tmp_path / 'b.db'}",
        sinks=[LoggingSink("lookout.test.silent")] if beside != "store alone" else [],
    )
    try:
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
    assert request_values(captured, 0, 0)[3] == code


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
    assert request_values(captured, 0, trusted)[6] == expected
    assert client_ip("10.0.0.1", forwarded, trusted) == expected


def test_requests_of_the_same_values_share_one_fields_object() -> None:
    """What makes a request's Event cheap: a route's requests mostly repeat their fields, so
    they share one dict (the store's writer then makes its JSON once a batch); the cache is
    bounded, and clearing it leaves the events that hold its dicts as they were."""
    naming = RequestNaming()
    first = naming.fields_for(("GET", "/p", "/p", 7, "curl/8.0"))
    assert first == {
        "method": "GET",
        "path": "/p",
        "rule": "/p",
        "response_bytes": 7,
        "user_agent": "curl",
    }
    assert naming.fields_for(("GET", "/p", "/p", 7, "curl/8.0")) is first
    assert naming.fields_for(("GET", "/q", "/q", 7, "curl/8.0")) is not first
    for n in range(MAX_SHARED_FIELDS):
        naming.fields_for(("GET", f"/{n}", None, None, None))
    again = naming.fields_for(("GET", "/p", "/p", 7, "curl/8.0"))
    assert again == first and again is not first  # made anew after the cache was cleared
    assert naming.tags_for("GET") is naming.tags_for("GET")


def test_a_plain_request_answered_with_a_server_error_is_stored_as_an_error(
    tmp_path: Path,
) -> None:
    """No exception: its status alone makes it an error, in the raw row and in the rollups."""
    lookout = Lookout(store=f"sqlite:///{tmp_path / 'p.db'}")
    try:
        app = Flask("busy")
        LookoutFlask(app, lookout)

        @app.get("/busy")
        def busy() -> tuple[str, int]:
            return "try later", 503

        client = app.test_client()
        assert client.get("/busy").status_code == 503
        assert client.get("/busy").status_code == 503
        assert lookout.flush(30)
        assert lookout.store is not None
        events, _ = events_after(lookout.store, 0)
        [summary] = summarize(lookout.store, kind="request")
    finally:
        lookout.close()
    assert [(e.name, e.status, e.outcome) for e in events] == [("busy", 503, "error")] * 2
    assert (summary.name, summary.count, summary.errors) == ("busy", 2, 2)


def test_plain_and_tracked_requests_share_a_batch_in_their_order(tmp_path: Path) -> None:
    """Plain requests share their fields objects, tracked ones have their own: one batch holds
    both, and each is stored with its own fields, in the order they were served."""
    from flask import g

    lookout = Lookout(store=f"sqlite:///{tmp_path / 'mixed.db'}")
    try:
        app = Flask("mixed")
        flask_lookout = LookoutFlask(app, lookout)

        @app.get("/plain")
        def plain() -> str:
            return "plain"

        @app.get("/tracked")
        @flask_lookout.track(g_vars=["user"])
        def tracked() -> str:
            g.user = "ada"
            return "tracked"

        client = app.test_client()
        served = ["plain", "tracked", "tracked", "plain", "tracked"]
        for name in served:
            assert client.get(f"/{name}").status_code == 200
        assert lookout.flush(30)
        assert lookout.store is not None
        events, _ = events_after(lookout.store, 0)
    finally:
        lookout.close()
    assert [event.name for event in events] == served
    for event in events:
        assert event.tags == {"method": "GET"}
        assert event.fields["path"] == f"/{event.name}"
        assert ("g" in event.fields) is (event.name == "tracked")
    assert events[1].fields["g"] == {"user": "ada"}
