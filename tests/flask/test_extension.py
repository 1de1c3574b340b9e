"""LookoutFlask on real Flask apps, through the test client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask, g, stream_with_context

from lookout.flask import LookoutFlask, add_metric, request_id
from lookout.testing import CapturedEvents, capture_events


@pytest.fixture
def events() -> Iterator[CapturedEvents]:
    with capture_events(app_version="2.0") as captured:
        yield captured


def make_app(events: CapturedEvents, **options: object) -> Flask:
    app = Flask("shop")
    LookoutFlask(app, events.lookout, **options)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, object]:
        g.user_id = 42
        g.basket = {"items": [item_id], "card_token": "tok_123"}
        return {"item": item_id, "request_id": request_id()}

    @app.post("/items/<int:item_id>")
    def update_item(item_id: int) -> str:
        g.user_id = 7
        g.basket = {"items": []}
        return "updated"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaput")

    return app


def test_a_request_records_every_field(events: CapturedEvents) -> None:
    app = make_app(events, group_by=lambda: g.get("user_id"))
    response = app.test_client().get(
        "/items/3", headers={"User-Agent": "Mozilla/5.0 Chrome/130.0 Safari/537.36"}
    )
    assert response.status_code == 200
    [event] = events.refresh()
    assert event.kind == "request"
    assert event.name == "item"
    assert event.status == 200
    assert event.outcome == "ok"
    assert event.duration_ns > 0
    assert event.app_version == "2.0"
    assert event.group == "42"
    assert event.client_ip == "127.0.0.1"
    assert event.request_id == response.headers["X-Request-ID"] == response.json["request_id"]
    assert event.tags == {"method": "GET"}
    assert event.fields["rule"] == "/items/<int:item_id>"
    assert event.fields["path"] == "/items/3"
    assert event.fields["response_bytes"] == len(response.data)
    assert event.fields["user_agent"] == "Chrome"
    assert "g" not in event.fields  # nothing tracked unless asked


def test_g_tracking_per_method_with_redaction(events: CapturedEvents) -> None:
    app = make_app(events, track_g={"GET": ["user_id", "basket"], "POST": ["user_id"]})
    client = app.test_client()
    client.get("/items/1")
    client.post("/items/1")
    get, post = events.refresh()
    # values you named are recorded as given (redact_keys would say otherwise)
    assert get.fields["g"] == {"user_id": 42, "basket": {"items": [1], "card_token": "tok_123"}}
    assert post.fields["g"] == {"user_id": 7}


def test_g_tracking_all_and_plain_list(events: CapturedEvents) -> None:
    app = make_app(events, track_g="all")
    app.test_client().post("/items/5")
    assert events.refresh()[0].fields["g"] == {"user_id": 7, "basket": {"items": []}}
    with capture_events() as other:
        app2 = make_app(other, track_g=["user_id"])
        app2.test_client().post("/items/5")
        app2.test_client().get("/items/5")
    assert [e.fields["g"] for e in other] == [{"user_id": 7}, {"user_id": 42}]


def test_per_route_track_decorator(events: CapturedEvents) -> None:
    app = Flask("routes")
    lookout_flask = LookoutFlask(app, events.lookout, track_g=["user_id"])

    @app.route("/checkout", methods=["GET", "POST"])
    @lookout_flask.track(g_vars=["cart_id"], methods=["POST"])
    def checkout() -> str:
        g.user_id, g.cart_id = 1, "c-9"
        return "ok"

    client = app.test_client()
    client.post("/checkout")
    client.get("/checkout")
    post, get = events.refresh()
    assert post.fields["g"] == {"cart_id": "c-9"}
    assert "g" not in get.fields  # the route's own rule says POST only


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123", True),
        ("0f1e2d3c-aaaa-bbbb-cccc-000011112222", True),
        ("x" * 129, False),  # overlong
        ("bad\x01id", False),  # control character
        ("a b", False),
        ("evil\r\nSet-Cookie: session=1", False),  # header injection
        ("<script>", False),
        ("", False),
    ],
)
def test_incoming_request_ids_are_validated(
    events: CapturedEvents, incoming: str, kept: bool
) -> None:
    app = make_app(events)
    environ = {"HTTP_X_REQUEST_ID": incoming}  # raw, as a hostile client could send it
    response = app.test_client().get("/items/1", environ_overrides=environ)
    echoed = response.headers["X-Request-ID"]
    if kept:
        assert echoed == incoming
    else:
        assert echoed != incoming
        assert len(echoed) == 32 and echoed.isalnum()
    assert events.refresh()[0].request_id == echoed


def test_custom_request_id_header_and_generator(events: CapturedEvents) -> None:
    counter = iter(range(100))
    app = make_app(
        events,
        request_id_header="X-Correlation-ID",
        request_id_generator=lambda: f"req-{next(counter)}",
    )
    response = app.test_client().get("/items/1")
    assert response.headers["X-Correlation-ID"] == "req-0"
    assert "X-Request-ID" not in response.headers


def test_unhandled_error_is_recorded_and_flask_still_answers_500(events: CapturedEvents) -> None:
    app = make_app(events)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    [event] = events.refresh()
    assert (event.name, event.status, event.outcome) == ("boom", 500, "error")
    assert event.error_type == "RuntimeError" and event.error_message == "kaput"
    assert event.traceback is not None and 'raise RuntimeError("kaput")' in event.traceback


def test_error_propagating_in_testing_mode_is_still_recorded(events: CapturedEvents) -> None:
    app = make_app(events)
    app.testing = True
    with pytest.raises(RuntimeError, match="kaput"):
        app.test_client().get("/boom")
    [event] = events.refresh()
    assert (event.status, event.outcome, event.error_type) == (500, "error", "RuntimeError")


def test_handled_errors_and_404_keep_their_status(events: CapturedEvents) -> None:
    app = make_app(events)

    @app.errorhandler(KeyError)
    def missing(error: KeyError) -> tuple[str, int]:
        return "missing", 404

    @app.get("/lookup")
    def lookup() -> str:
        raise KeyError("x")

    client = app.test_client()
    assert client.get("/lookup").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    lookup_event, unmatched = events.refresh()
    assert (lookup_event.name, lookup_event.status, lookup_event.outcome) == ("lookup", 404, "ok")
    assert (unmatched.name, unmatched.status) == ("[unmatched]", 404)


def test_async_views(events: CapturedEvents) -> None:
    app = make_app(events)

    @app.get("/slow")
    async def slow() -> str:
        await asyncio.sleep(0.05)
        return "late"

    assert app.test_client().get("/slow").data == b"late"
    [event] = events.refresh()
    assert event.name == "slow" and event.duration_ns >= 45_000_000


def test_streamed_response_is_timed_until_closed(events: CapturedEvents) -> None:
    app = make_app(events)

    @app.get("/stream")
    def stream() -> object:
        def chunks() -> Iterator[str]:
            for n in range(3):
                time.sleep(0.02)
                yield f"chunk {n}\n"

        return app.response_class(stream_with_context(chunks()))

    response = app.test_client().get("/stream", buffered=True)  # buffered: the client closes it
    assert response.data == b"chunk 0\nchunk 1\nchunk 2\n"
    [event] = events.refresh()
    assert event.duration_ns >= 55_000_000  # the three chunks, not just the view
    assert event.fields["response_bytes"] == len(response.data)


def test_blueprints_and_setup_after_routes(events: CapturedEvents) -> None:
    app = Flask("late")
    shop = Blueprint("shop", __name__, url_prefix="/shop")

    @shop.get("/cart")
    def cart() -> str:
        return "cart"

    app.register_blueprint(shop)
    LookoutFlask(app, events.lookout)  # set up after the routes

    @app.get("/later")
    def later() -> str:  # and a route added after the extension
        return "later"

    client = app.test_client()
    client.get("/shop/cart")
    client.get("/later")
    assert [e.name for e in events.refresh()] == ["shop.cart", "later"]


def test_application_factory_and_several_apps(events: CapturedEvents) -> None:
    extension = LookoutFlask(lookout=events.lookout)

    def create_app(name: str) -> Flask:
        app = Flask(name)
        app.config["LOOKOUT_TRACK_G"] = ["who"]
        extension.init_app(app)

        @app.get("/")
        def index() -> str:
            g.who = name
            return name

        return app

    first, second = create_app("first"), create_app("second")
    first.test_client().get("/")
    second.test_client().get("/")
    assert [e.fields["g"]["who"] for e in events.refresh()] == ["first", "second"]
    assert first.extensions["lookout"] is not second.extensions["lookout"]
    with pytest.raises(RuntimeError, match="already registered"):
        extension.init_app(first)


def test_client_ip_trusts_only_configured_proxies(events: CapturedEvents) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    untrusting = make_app(events)
    untrusting.test_client().get("/items/1", headers=forwarded)
    with capture_events() as trusting_events:
        trusting = make_app(trusting_events, trusted_proxies=1)
        trusting.test_client().get("/items/1", headers=forwarded)
        trusting.test_client().get("/items/1")
    assert events.refresh()[0].client_ip == "127.0.0.1"
    assert [e.client_ip for e in trusting_events] == ["198.51.100.7", "127.0.0.1"]


def test_group_by_that_raises_records_an_error_field(events: CapturedEvents) -> None:
    app = make_app(events, group_by=lambda: 1 / 0)
    assert app.test_client().get("/items/1").status_code == 200
    [event] = events.refresh()
    assert event.group is None
    assert event.fields["group.error"] == "ZeroDivisionError: division by zero"


def test_raise_exceptions_lets_user_callable_errors_through(events: CapturedEvents) -> None:
    app = make_app(events, group_by=lambda: 1 / 0, raise_exceptions=True)
    app.testing = True
    with pytest.raises(ZeroDivisionError):
        app.test_client().get("/items/1")


def test_add_metric_buffers_and_emits_after_the_request(events: CapturedEvents) -> None:
    app = make_app(events)

    @app.get("/cart")
    def cart() -> str:
        add_metric("CartValue", 12.5, unit="Count", dimensions={"currency": "EUR"})
        add_metric("Latency", 3, "Milliseconds", [{"Name": "route", "Value": "/cart"}])
        return "ok"

    response = app.test_client().get("/cart")
    request_event, cart_value, latency = events.refresh()
    assert request_event.kind == "request"
    assert (cart_value.kind, cart_value.name) == ("metric", "CartValue")
    assert cart_value.fields == {"value": 12.5, "unit": "Count", "endpoint": "cart"}
    assert cart_value.tags == {"currency": "EUR"}
    assert latency.tags == {"route": "/cart"}
    assert cart_value.request_id == response.headers["X-Request-ID"]


def test_add_metric_errors_are_clear(events: CapturedEvents) -> None:
    with pytest.raises(RuntimeError, match="needs an active Flask request"):
        add_metric("Orphan", 1)
    app = make_app(events)
    with app.test_request_context("/"):
        with pytest.raises(ValueError, match="not a CloudWatch unit"):
            add_metric("X", 1, unit="Parsecs")
        with pytest.raises(ValueError, match="finite number"):
            add_metric("X", float("nan"))
        with pytest.raises(ValueError, match="Name"):
            add_metric("X", 1, dimensions=[{"route": "/"}])
    bare = Flask("bare")
    with bare.test_request_context("/"), pytest.raises(RuntimeError, match="no LookoutFlask"):
        add_metric("X", 1)


def test_excluded_endpoints_and_static_files(events: CapturedEvents, tmp_path: object) -> None:
    app = make_app(events, exclude_endpoints=["item"])
    app.test_client().get("/items/1")
    app.test_client().post("/items/1")
    assert [e.name for e in events.refresh()] == ["update_item"]


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="did you mean 'track_g'"):
        LookoutFlask(track_gg=["x"])
    with pytest.raises(ValueError, match="trusted_proxies"):
        LookoutFlask(Flask("x"), trusted_proxies=-1)


def test_the_request_id_replaces_one_the_app_set_and_bodiless_statuses_finish_at_once(
    events: CapturedEvents,
) -> None:
    app = make_app(events)

    @app.get("/own-id")
    def own_id() -> tuple[str, int, dict[str, str]]:
        return "", 204, {"x-request-id": "set-by-the-app"}

    response = app.test_client().get("/own-id", headers={"X-Request-ID": "trace-9"})
    assert response.headers.getlist("X-Request-ID") == ["trace-9"]
    [event] = events.refresh()  # no Content-Length on a 204, yet no body to wait for
    assert (event.name, event.status, event.request_id) == ("own_id", 204, "trace-9")


def test_requests_flask_refuses_before_any_view_are_recorded(events: CapturedEvents) -> None:
    app = make_app(events)
    client = app.test_client()
    assert client.delete("/items/1").status_code == 405
    assert client.open("/items/1", method="X" * 300).status_code == 405
    assert client.get("/nowhere").status_code == 404
    refused = events.refresh()
    assert [(e.name, e.status) for e in refused] == [
        ("[unmatched]", 405),  # routing failed: no endpoint
        ("[unmatched]", 405),
        ("[unmatched]", 404),
    ]
    assert refused[0].fields["path"] == "/items/1"
    assert refused[1].tags == {"method": "X" * 16}  # a hostile method is bounded


def test_redaction_and_size_settings_apply_to_the_request_s_own_fields() -> None:
    with capture_events(redact_keys=["path", "token"]) as captured:
        make_app(captured).test_client().get("/items/5?token=abc")
        [event] = captured.refresh()
    assert event.fields["path"] == "[REDACTED]"
    assert event.fields["rule"] == "/items/<int:item_id>"
    with capture_events(max_event_bytes=200) as captured:
        make_app(captured).test_client().get("/items/" + "7" * 200)
        [event] = captured.refresh()
    assert len(json.dumps(event.fields, ensure_ascii=False).encode()) <= 200
    assert event.fields["path"].startswith("…[left out: 209 bytes")
    assert event.fields["method"] == "GET"


def test_a_middleware_added_after_lookout_still_sees_the_request_id(
    events: CapturedEvents,
) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = make_app(events)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    response = app.test_client().get("/items/2", headers={"X-Forwarded-For": "203.0.113.9"})
    [event] = events.refresh()
    assert event.client_ip == "203.0.113.9"
    assert event.request_id == response.headers["X-Request-ID"]


def test_an_odd_content_length_neither_breaks_the_response_nor_is_taken_as_a_size(
    events: CapturedEvents,
) -> None:
    """ "²" passes ``str.isdigit()`` but not ``int()``: Lookout must not raise in the middle of
    the application's ``start_response``."""
    app = make_app(events)

    def odd(environ: dict[str, object], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "²")])
        return [b"x"]

    app.wsgi_app.wsgi_app = odd  # type: ignore[attr-defined]
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/odd",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    seen: list[str] = []
    body = app.wsgi_app(environ, lambda status, headers, exc_info=None: seen.append(status))
    assert b"".join(body) == b"x" and seen == ["200 OK"]
    getattr(body, "close", lambda: None)()
    [event] = events.refresh()
    assert event.status == 200 and event.fields["response_bytes"] == 1  # counted as streamed


def test_a_middleware_inside_lookout_may_answer_without_flask(events: CapturedEvents) -> None:
    app = make_app(events)
    flask_app = app.wsgi_app.wsgi_app  # type: ignore[attr-defined]

    def maintenance(environ: dict[str, object], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/down":
            start_response("503 SERVICE UNAVAILABLE", [("Content-Length", "0")])
            return [b""]
        return flask_app(environ, start_response)

    app.wsgi_app.wsgi_app = maintenance  # type: ignore[attr-defined]
    response = app.test_client().get("/down")
    assert response.status_code == 503 and response.headers["X-Request-ID"]
    assert app.test_client().get("/items/1").status_code == 200
    assert [(e.name, e.status) for e in events.refresh()] == [("[unmatched]", 503), ("item", 200)]
