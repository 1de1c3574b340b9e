"""The demo shop's failures and profiles as a real app's would look: exceptions with their
Flask tracebacks (grouped on the Errors page by fingerprint) and a level-3 profile of its
slowest view, for :mod:`lookout.demo_data`."""

from __future__ import annotations

from typing import Any

_FLASK = "/srv/shop/.venv/lib/python3.12/site-packages/flask/app.py"


def traceback_text(frames: list[tuple[str, int, str, str]], error: str) -> str:
    lines = ["Traceback (most recent call last):"]
    for path, line, function, code in frames:
        lines += [f'  File "{path}", line {line}, in {function}', f"    {code}"]
    return "\n".join([*lines, error])


def error(
    error_type: str, message: str, frames: list[tuple[str, int, str, str]], shown: str = ""
) -> tuple[str, str, str]:
    """(error type, message, traceback) as an event stores them."""
    return error_type, message, traceback_text(frames, f"{shown or error_type}: {message}")


def _dispatch(function: str, code: str) -> list[tuple[str, int, str, str]]:
    """Flask's frames down to a view of the shop."""
    return [
        (_FLASK, 880, "full_dispatch_request", "rv = self.dispatch_request()"),
        (_FLASK, 865, "dispatch_request", "return self.ensure_sync(view)(**view_args)"),
        ("/srv/shop/shop/views.py", 112, function, code),
    ]


def declined_payment(amount: int) -> tuple[str, str, str]:
    where = _dispatch("checkout", "charge_id = payments.charge(amount)")
    raised = ("/srv/shop/shop/payments.py", 41, "charge", "raise PaymentDeclined(reason)")
    return error(
        "shop.payments.PaymentDeclined", f"card declined for {amount} cents", [*where, raised]
    )


def out_of_stock(product: int) -> tuple[str, str, str]:
    raised = ("/srv/shop/shop/inventory.py", 27, "reserve", "raise OutOfStock(product_id)")
    return error("shop.inventory.OutOfStock", f"product {product}", [raised])


def missing_key(user: str) -> tuple[str, str, str]:
    where = _dispatch("recommendations", "picks = recommend.for_user(user)")
    raised = ("/srv/shop/shop/recommend.py", 58, "for_user", "return HISTORY[user][-3:]")
    return error("builtins.KeyError", repr(user), [*where, raised], shown="KeyError")


def database_locked() -> tuple[str, str, str]:
    sa = "/srv/shop/.venv/lib/python3.12/site-packages/sqlalchemy/engine/base.py"
    frames = [
        *_dispatch("export_csv", "rows = db.session.execute(EXPORT).all()"),
        (sa, 1418, "execute", "return meth(self, distilled_parameters, execution_options)"),
        (sa, 1967, "_exec_single_context", "self.dialect.do_execute(cursor, statement, params)"),
    ]
    message = "(sqlite3.OperationalError) database is locked"
    return error("sqlalchemy.exc.OperationalError", message, frames)


def profile(duration_ms: float, slow: float) -> list[list[Any]]:
    """A level-3 profile of ``search``: folded stacks from the view's frame down
    (``file:function:line``), milliseconds and samples (one per 10 ms)."""
    ranking = duration_ms * (0.55 + 0.2 * (slow > 1))
    view = "shop/views.py:search"
    engine = "sqlalchemy/engine/base.py:Connection._execute_context:1967"
    parts = [
        (f"{view}:41;shop/search.py:rank:18;shop/search.py:score:33", ranking * 0.6),
        (f"{view}:41;shop/search.py:rank:19;shop/search.py:score:35", ranking * 0.1),
        (f"{view}:41;shop/search.py:rank:16;shop/search.py:tokenize:9", ranking * 0.3),
        (f"{view}:39;shop/db.py:products:52;{engine}", duration_ms * 0.25),
        (f"{view}:44;json/encoder.py:JSONEncoder.encode:200", duration_ms * 0.05),
    ]
    return [[path, round(ms, 3), max(1, round(ms / 10))] for path, ms in parts]


#: The code of the lines ``profile``'s stacks are at, as the sampler records it.
PROFILE_SOURCE = [
    ["shop/views.py:39", "products = db.products(category)"],
    ["shop/views.py:41", "ranked = search.rank(query, products)"],
    ["shop/views.py:44", "return jsonify(ranked[:20])"],
    ["shop/search.py:16", "words = tokenize(query)"],
    ["shop/search.py:18", "scores = [score(words, p) for p in products]"],
    ["shop/search.py:19", "return sorted(zip(scores, products), reverse=True)"],
    ["shop/search.py:33", "hits = sum(w in product.text for w in words)"],
    ["shop/search.py:35", "return hits / (1 + len(product.text))"],
    ["shop/search.py:9", "return [w for w in WORD.findall(text.lower()) if w not in STOP]"],
    ["shop/db.py:52", "return session.execute(select(Product)).scalars().all()"],
]
