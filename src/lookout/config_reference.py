"""The configuration reference page (docs/configuration.md), made from the settings table.

``lookout config --reference > docs/configuration.md`` writes it; tests/test_docs.py fails when
the page and the table differ, so the docs cannot fall behind a new or changed setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookout.settings_table import DASHBOARD, FLASK, LOOKOUT, Setting, group

_UNITS = (("w", 604800.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))

INTRO = """\
# Configuration reference

<!-- Made by `lookout config --reference > docs/configuration.md` from
     src/lookout/settings_table.py: edit the table there, not this page. -->

Lookout's settings come from keyword arguments (`Lookout(batch_size=500)`), a TOML file
(`./lookout.toml`, or the file named by `LOOKOUT_CONFIG`; keys at the top level or under
`[lookout]`), environment variables (`LOOKOUT_` + the key in capitals) and, when `LookoutFlask`
makes its own Lookout, the app's `app.config` keys. Precedence, lowest first: defaults, file,
arguments, environment, so whoever deploys an application can redirect its data without
touching its code. Unknown keys and bad values stop start-up with an error that names the key,
the value and what is expected (with a did-you-mean for misspelt keys), in the environment too
(`LOOKOUT_BACH_SIZE` stops start-up; the variables other parts of Lookout read, such as
`LOOKOUT_DASHBOARD_*`, `LOOKOUT_PYTEST_*` and `LOOKOUT_NATIVE`, are not settings).

Durations accept `250ms`, `30s`, `15m`, `12h`, `30d`, `2w` or a number of seconds. `lookout
check` prints every setting with where its value came from.
"""

FLASK_INTRO = """\
## LookoutFlask options

`LookoutFlask(app, lk, **options)`, or `app.config["LOOKOUT_<OPTION>"]`; arguments win over
`app.config`, which wins over the defaults. An unknown option is a `TypeError` naming the
closest one. See [flask.md](flask.md).
"""

DASHBOARD_INTRO = """\
## Dashboard options

LookoutFlask's `dashboard_*` options (or their `app.config` keys) for the dashboard it mounts;
`lookout dashboard` takes some of them as flags and environment variables, and `--host`,
`--port`, `--store` and `--create` of its own ([cli.md](cli.md)). See
[dashboard.md](dashboard.md).
"""

EXAMPLE = """\
## Example

```toml
# lookout.toml
store = "postgresql://metrics@db/lookout"
app_version = "1.4"
retention = "14d"

[[sinks]]
type = "http"
url = "https://collector.example/ingest"
gzip_body = true

[[sinks]]
type = "log"
logger = "app.events"

[[notifiers]]
type = "slack"
webhook_url = "https://hooks.slack.com/services/..."

[[alerts]]
type = "error_rate"
threshold = 0.05
window = "5m"
```

The same from the environment: `LOOKOUT_STORE=postgresql://metrics@db/lookout`,
`LOOKOUT_RETENTION=14d`, `LOOKOUT_SINKS='[{"type": "log", "logger": "app.events"}]'`.
"""


def format_duration(seconds: float) -> str:
    """``1s``, ``500ms``, ``30d``: the largest unit that says it exactly."""
    for unit, size in _UNITS:
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds * 1000:g}ms"


def shown_default(setting: Setting) -> str:
    """A default as the docs show it: as one would write it in lookout.toml."""
    if setting.shown is not None:
        return setting.shown
    value: Any = setting.default
    if value is None or value == ():
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`" if setting.group == LOOKOUT else f"`{value}`"
    if isinstance(value, float) and setting.type.startswith("duration"):
        return f"`{format_duration(value)}`"
    if isinstance(value, tuple):
        return ", ".join(f"`{item}`" for item in value)
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(settings: tuple[Setting, ...], columns: tuple[str, ...]) -> str:
    getters: dict[str, Callable[[Setting], str]] = {
        "name": lambda s: f"`{s.name}`",
        "type": lambda s: s.type,
        "default": shown_default,
        "environment variable": lambda s: f"`{s.env_var}`" if s.env_var else "",
        "`app.config` key": lambda s: f"`{s.config_key}`",
        "`lookout dashboard` flag": lambda s: f"`{s.cli}`" if s.cli else "",
        "meaning": lambda s: s.doc,
    }
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for setting in settings:
        lines.append("| " + " | ".join(_cell(getters[c](setting)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole page."""
    core = ("name", "type", "default", "environment variable", "`app.config` key", "meaning")
    flask = ("name", "type", "default", "`app.config` key", "`lookout dashboard` flag", "meaning")
    dashboard = (
        "name",
        "type",
        "default",
        "`app.config` key",
        "`lookout dashboard` flag",
        "environment variable",
        "meaning",
    )
    return "\n".join(
        [
            INTRO,
            "## Lookout settings\n",
            "`Lookout(...)` arguments, `lookout.toml` keys, environment variables and, for the\n"
            "Lookout that LookoutFlask makes when given none, `app.config` keys.\n",
            _table(group(LOOKOUT), core),
            FLASK_INTRO,
            _table(group(FLASK), flask),
            DASHBOARD_INTRO,
            _table(group(DASHBOARD), dashboard),
            EXAMPLE,
        ]
    )
