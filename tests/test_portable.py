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
