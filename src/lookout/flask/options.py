"""LookoutFlask's options for one app: their defaults (the settings table's flask and
dashboard rows), and the arguments and ``app.config`` values resolved and checked once, at
``init_app``, into the object every request reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lookout import settings_table
from lookout.flask.ids import new_request_id
from lookout.flask.levels import OUTLIER_RULES, check_level

TRACK_ATTRIBUTE = "__lookout_track_g__"


#: Extension options: name -> default (the flask and dashboard rows of the settings table).
#: Each may also be set as ``app.config["LOOKOUT_<NAME>"]``.
DEFAULTS: dict[str, Any] = {
    setting.name: setting.default
    for setting in settings_table.group(settings_table.FLASK)
    + settings_table.group(settings_table.DASHBOARD)
}


TrackG = None | str | Sequence[str] | Mapping[str, Sequence[str]]


def _normalise_track_g(value: TrackG, where: str) -> dict[str, tuple[str, ...]] | str | None:
    """``None``, ``"all"``, a list of names (every method) or a dict method -> names."""
    if value is None or value == "all":
        return value
    if isinstance(value, str):
        raise ValueError(f"{where}: expected 'all', a list of g names or a dict per method")
    if isinstance(value, Mapping):
        return {str(method).upper(): tuple(names) for method, names in value.items()}
    return {"*": tuple(value)}


class AppConfig:
    """The options of one app, resolved and validated once at ``init_app``."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.track_g = _normalise_track_g(options["track_g"], "track_g")
        self.group_by: Callable[[], Any] | None = options["group_by"]
        self.request_id_header: str = options["request_id_header"]
        self.request_id_generator: Callable[[], str] = (
            options["request_id_generator"] or new_request_id
        )
        proxies = options["trusted_proxies"]
        if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
            raise ValueError(f"trusted_proxies: expected a whole number >= 0; got {proxies!r}")
        self.trusted_proxies: int = proxies
        self.raise_exceptions = bool(options["raise_exceptions"])
        self.exclude_endpoints = frozenset(options["exclude_endpoints"] or ())
        self.record_user_agent = bool(options["record_user_agent"])
        self.default_level = check_level(options["default_level"])
        self.outlier_constant = float(options["outlier_constant"])
        self.outlier_rule: str = options["outlier_rule"]
        if self.outlier_rule not in OUTLIER_RULES:
            raise ValueError(
                f"outlier_rule: expected 'stdev' or 'average'; got {self.outlier_rule!r}"
            )
        self.outlier_warmup = int(options["outlier_warmup"])
        self.sampler_interval = float(options["sampler_interval"])
        self.level_refresh_interval = float(options["level_refresh_interval"])
        if self.sampler_interval <= 0 or self.level_refresh_interval <= 0:
            raise ValueError("sampler_interval and level_refresh_interval must be above 0")
        for name in ("group_by", "request_id_generator"):
            if options[name] is not None and not callable(options[name]):
                raise ValueError(f"{name}: expected a callable; got {options[name]!r}")
