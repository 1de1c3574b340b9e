"""The HTML pages: thin shells whose data ``static/*.js`` fetches from the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from flask import Blueprint, Response, abort, send_file

from lookout.dashboard.api import KINDS
from lookout.dashboard.context import current

#: Pages with no argument: URL rule -> (endpoint, template).
SIMPLE_PAGES = {
    "/": ("overview", "overview.html"),
    "/jobs": ("jobs_page", "jobs.html"),
    "/metrics": ("metrics_page", "metrics.html"),
    "/system": ("system_page", "system.html"),
}


def register(blueprint: Blueprint) -> None:
    for rule, (endpoint, template) in SIMPLE_PAGES.items():
        blueprint.add_url_rule(rule, endpoint, _simple_page(template), methods=["GET"])
    blueprint.add_url_rule("/detail/<kind>/<name:name>", "detail", detail, methods=["GET"])
    blueprint.add_url_rule("/vendor/plotly.min.js", "plotly", plotly, methods=["GET"])


def _simple_page(template: str) -> Callable[[], str]:
    page_name = template.removesuffix(".html")

    def view() -> str:
        return current().page(template, page_name=page_name)

    return view


def detail(kind: str, name: str) -> str:
    if kind not in KINDS:
        abort(404)
    return current().page("detail.html", page_name="detail", kind=kind, name=name)


def plotly() -> Response:
    """plotly.js from the installed ``plotly`` package: no CDN, works offline."""
    try:
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        abort(404, "charts need plotly: pip install 'lookout[flask]'")
    response = send_file(path, mimetype="text/javascript", max_age=7 * 86400)
    response.headers["Cache-Control"] = "public, max-age=604800"
    return response
