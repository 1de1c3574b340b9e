"""Dashboard sessions, cookies and login throttling, over real stores shared by two apps (two
processes' worth of state: nothing but the store is shared between them)."""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from lookout.dashboard import create_app
from lookout.dashboard.throttle import LoginThrottle
from tests.dashboard.helpers import post_login

PASSWORD = "the admin's password"


def _login(client: FlaskClient, password: str = PASSWORD, user: str = "admin") -> str:
    answer = post_login(client, user, password)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    cookie = client.get_cookie("lookout_session", path="/dashboard/")
    assert cookie is not None
    return cookie.value


def _with_cookie(app: Flask, cookie: str, path: str = "/dashboard/api/me") -> Any:
    client = app.test_client()
    client.set_cookie("lookout_session", cookie, path="/dashboard/")
    return client.get(path)


def test_logout_ends_the_session_in_every_process_sharing_the_store(store_url: str) -> None:
    one, two = (
        create_app(store_url, admin_password=PASSWORD),
        create_app(store_url, admin_password=PASSWORD),
    )
    client = one.test_client()
    cookie = _login(client)
    assert _with_cookie(two, cookie).get_json()["user"] == "admin"  # one session, both apps
    csrf = client.get("/dashboard/api/me").get_json()["csrf"]
    assert client.post("/dashboard/logout", data={"csrf_token": csrf}).status_code == 302
    for app in (one, two):  # the old cookie, sent again, is refused everywhere
        assert _with_cookie(app, cookie).status_code == 401
        page = _with_cookie(app, cookie, "/dashboard/")
        assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_logout_ends_only_that_session(sqlite_url: str) -> None:
    app = create_app(sqlite_url, admin_password=PASSWORD)
    laptop, phone = app.test_client(), app.test_client()
    _login(laptop)
    phone_cookie = _login(phone)
    csrf = laptop.get("/dashboard/api/me").get_json()["csrf"]
    laptop.post("/dashboard/logout", data={"csrf_token": csrf})
    assert _with_cookie(app, phone_cookie).status_code == 200


def test_a_password_change_ends_the_sessions_of_the_old_password(store_url: str) -> None:
    old = create_app(store_url, admin_password=PASSWORD, guest_passwords=("g1", "g2"))
    admin_cookie = _login(old.test_client())
    guest_cookie = _login(old.test_client(), "g1", user="guest")
    kept_guest = _login(old.test_client(), "g2", user="guest")
    # a restart (or another process) with a new admin password and without guest password g1
    new = create_app(store_url, admin_password="a new password", guest_passwords=("g2",))
    assert _with_cookie(new, admin_cookie).status_code == 401
    assert _with_cookie(new, guest_cookie).status_code == 401
    assert _with_cookie(new, kept_guest).status_code == 200
    # the old password's session ended in the store: refused by the old process too
    assert _with_cookie(old, admin_cookie).status_code == 401
    fresh = _login(new.test_client(), "a new password")
    assert _with_cookie(new, fresh).get_json()["role"] == "admin"
    assert post_login(new.test_client(), "admin", PASSWORD).status_code == 401


def test_a_forged_or_unknown_session_cookie_is_refused(sqlite_url: str) -> None:
    app = create_app(sqlite_url, admin_password=PASSWORD)
    cookie = _login(app.test_client())
    assert _with_cookie(app, cookie[:-2] + "xx").status_code == 401
    other = create_app(sqlite_url.replace(".db", "-other.db"), admin_password=PASSWORD)
    assert _with_cookie(other, cookie).status_code == 401  # another store: another key


def _set_cookie_headers(answer: Any) -> list[str]:
    return [v for k, v in answer.headers.items() if k.lower() == "set-cookie"]


def test_secure_cookies_behind_a_trusted_proxy_only(sqlite_url: str) -> None:
    https = {"X-Forwarded-Proto": "https"}
    behind = create_app(sqlite_url, admin_password=PASSWORD, trusted_proxies=1)
    answer = _post_login_with(behind.test_client(), https)
    assert answer.status_code == 302
    session = [c for c in _set_cookie_headers(answer) if c.startswith("lookout_session=")]
    assert session and "Secure" in session[0] and "HttpOnly" in session[0]
    # no proxy trusted: a client's own X-Forwarded-Proto is not believed
    direct = create_app(sqlite_url, admin_password=PASSWORD)
    answer = _post_login_with(direct.test_client(), https)
    assert answer.status_code == 302
    assert not any("Secure" in c for c in _set_cookie_headers(answer))
    # behind a trusted proxy that says http: not Secure
    answer = _post_login_with(behind.test_client(), {"X-Forwarded-Proto": "http"})
    assert not any("Secure" in c for c in _set_cookie_headers(answer))
    # secure_cookies: Secure whatever the request says
    always = create_app(sqlite_url, admin_password=PASSWORD, secure_cookies=True)
    answer = _post_login_with(always.test_client(), {})
    assert all("Secure" in c for c in _set_cookie_headers(answer))


def _post_login_with(client: FlaskClient, headers: dict[str, str]) -> Any:
    form = client.get("/dashboard/login", headers=headers).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found
    return client.post(
        "/dashboard/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": found.group(1)},
        headers=headers,
    )


def test_lookout_flask_passes_secure_cookies_and_trusted_proxies(sqlite_url: str) -> None:
    from lookout import Lookout
    from lookout.flask import LookoutFlask

    lk = Lookout(store=sqlite_url)
    try:
        app = Flask("proxied")
        app.config["LOOKOUT_DASHBOARD_SECURE_COOKIES"] = True
        LookoutFlask(app, lk, dashboard_admin_password=PASSWORD)
        answer = _post_login_with(app.test_client(), {})
        assert answer.status_code == 302
        assert all("Secure" in c for c in _set_cookie_headers(answer))
    finally:
        lk.close()


def _attempt(client: FlaskClient, password: str, address: str, **kw: Any) -> Any:
    client.environ_base["REMOTE_ADDR"] = address
    return post_login(client, "admin", password, **kw)


def test_an_attacker_cannot_lock_the_admin_out_from_another_address(store_url: str) -> None:
    app = create_app(store_url, admin_password=PASSWORD)
    attacker = app.test_client()
    answers = [_attempt(attacker, f"guess {n}", "203.0.113.66").status_code for n in range(12)]
    assert answers[:4] == [401] * 4 and 429 in answers  # the attacker is slowed down
    assert _attempt(attacker, PASSWORD, "203.0.113.66").status_code == 429  # even if right
    admin = app.test_client()
    assert _attempt(admin, PASSWORD, "198.51.100.7").status_code == 302


def test_behind_a_trusted_proxy_the_pair_is_the_forwarded_address(sqlite_url: str) -> None:
    app = create_app(sqlite_url, admin_password=PASSWORD, trusted_proxies=1)
    attacker, admin = app.test_client(), app.test_client()
    for n in range(8):  # all through the same proxy address
        attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.66"
        _attempt(attacker, f"guess {n}", "10.0.0.1")
    assert _attempt(attacker, PASSWORD, "10.0.0.1").status_code == 429
    admin.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    assert _attempt(admin, PASSWORD, "10.0.0.1").status_code == 302


def test_failed_logins_wait_longer_and_longer(sqlite_url: str) -> None:
    app = create_app(sqlite_url, admin_password=PASSWORD)
    client = app.test_client()
    for _ in range(3):  # typos are free
        answer = _attempt(client, "typo", "192.0.2.1")
        assert answer.status_code == 401 and "Retry-After" not in answer.headers
    waits = []
    for _ in range(3):
        answer = _attempt(client, "wrong", "192.0.2.1")
        assert answer.status_code == 401
        waits.append(int(answer.headers["Retry-After"]))
        blocked = _attempt(client, "wrong", "192.0.2.1")
        assert blocked.status_code == 429
        assert re.search(r"try again in \d+ s", blocked.get_data(as_text=True))
        time.sleep(waits[-1] + 0.05)
    assert waits == [1, 2, 4]
    assert _attempt(client, PASSWORD, "192.0.2.1").status_code == 302  # waited: may try
    # a success clears the pair: the next typo is free again
    assert "Retry-After" not in _attempt(client, "typo", "192.0.2.1").headers


def test_throttle_delays_are_capped_and_its_table_bounded() -> None:
    throttle = LoginThrottle(free=0, base_s=1.0, max_s=60.0, max_pairs=100)
    delays = [throttle.failed("admin", "192.0.2.1") for _ in range(2000)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0] and max(delays) == 60.0
    for n in range(1000):
        throttle.failed("admin", f"10.0.{n // 256}.{n % 256}")
    assert throttle.retry_after("admin", "192.0.2.1") == 0.0  # dropped: least recent
    assert throttle.retry_after("admin", "10.0.3.231") > 0
