from __future__ import annotations

from pathlib import Path

import pytest

from lookout import Lookout
from lookout.portable import PortableKinds, RowContext
from lookout.store.queries import summarize
from lookout.store.tail import events_after


def test_a_plain_request_answered_with_a_server_error_is_stored_as_an_error(
    tmp_path: Path,
) -> None:
    """No exception, so it travels as a portable tuple: its status alone makes it an error, in
    the raw row and in the rollups."""
    from flask import Flask

    from lookout.flask import LookoutFlask

    lookout = Lookout(store=f"sqlite:///{tmp_path / 'p.db'}")
    try:
        assert lookout.recorder._forward_portable
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


def test_an_unknown_kind_of_portable_item_is_refused_by_name() -> None:
    kinds = PortableKinds(RowContext({}, {}, None, None))
    with pytest.raises(ValueError, match="no rows for portable items of kind 'nope'"):
        kinds.kind("nope")


def test_a_batch_of_events_and_portable_requests_is_stored_in_its_order(tmp_path: Path) -> None:
    """Requests with g values travel as Events, plain ones as portable tuples: one batch holds
    both, and each is stored with its own fields, in the order they were served."""
    from flask import Flask, g

    from lookout.flask import LookoutFlask

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
