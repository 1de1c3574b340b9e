"""Every setting and option of Lookout, in one table: name, type, default, sources, meaning.

Three groups share it. ``lookout`` settings are read by :func:`lookout.config.load_settings`
from ``Lookout(...)`` arguments, a TOML file, ``LOOKOUT_*`` environment variables, and (when
``LookoutFlask`` makes its own Lookout) ``app.config``. ``flask`` options are
``LookoutFlask(...)`` arguments or ``app.config`` keys. ``dashboard`` options are LookoutFlask's
``dashboard_*`` options, some of which ``lookout dashboard`` also takes as flags.

The :class:`lookout.config.Settings` fields, LookoutFlask's defaults and the docs' configuration
reference (docs/configuration.md, made by :mod:`lookout.config_reference`) all come from here,
so a setting added in one place cannot be missing from another: add a row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lookout import config_values as v
from lookout.store.engine import DEFAULT_STORE_URL

LOOKOUT, FLASK, DASHBOARD = "lookout", "flask", "dashboard"
ENV_PREFIX = "LOOKOUT_"


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row of the table."""

    name: str
    group: str
    #: The kind of value, as the docs say it.
    type: str
    default: Any
    #: What it does (Markdown: it is the docs' text).
    doc: str
    #: ``lookout`` settings: reads a value from any source, or raises ValueError saying what
    #: was expected. Flask and dashboard options are checked by LookoutFlask itself.
    parse: Callable[[object], Any] | None = None
    #: The default as the docs show it, where the value itself would not say it.
    shown: str | None = None
    #: An environment variable other than ``LOOKOUT_<NAME>`` (``lookout dashboard``'s).
    env: str | None = None
    #: The ``lookout dashboard`` flag that sets it, if any.
    cli: str | None = None

    @property
    def env_var(self) -> str | None:
        """The environment variable read for it, if any."""
        if self.group == LOOKOUT:
            return ENV_PREFIX + self.name.upper()
        return self.env

    @property
    def config_key(self) -> str:
        """Its ``app.config`` key (read by LookoutFlask)."""
        return ENV_PREFIX + self.name.upper()


def _core(
    name: str,
    type_: str,
    default: Any,
    parse: Callable[[object], Any],
    doc: str,
    shown: str | None = None,
) -> Setting:
    return Setting(name, LOOKOUT, type_, default, doc, parse, shown)


def _flask(
    name: str, type_: str, default: Any, doc: str, shown: str | None = None, cli: str | None = None
) -> Setting:
    return Setting(name, FLASK, type_, default, doc, shown=shown, cli=cli)


def _dash(
    name: str,
    type_: str,
    default: Any,
    doc: str,
    shown: str | None = None,
    env: str | None = None,
    cli: str | None = None,
) -> Setting:
    return Setting(name, DASHBOARD, type_, default, doc, shown=shown, env=env, cli=cli)


DAY = 86400.0

# fmt: off
TABLE: tuple[Setting, ...] = (
    # --- Lookout settings -------------------------------------------------------------------
    _core("store", "database URL or none", DEFAULT_STORE_URL, v.store_url,
          "Database URL of the store (SQLite, PostgreSQL, MySQL/MariaDB, ClickHouse); `none` "
          "keeps no store. `postgresql://` uses psycopg 3, `mysql://` PyMySQL, "
          "`clickhouse://` clickhouse-driver ([clickhouse.md](clickhouse.md))."),
    _core("app_version", "text", None, v.optional_text,
          "Your application's version, stamped on every event."),
    _core("hostname", "text, 1 to 255 characters", None, v.hostname,
          "This machine's name on stored events (containers otherwise report a random id); "
          "`LOOKOUT_HOSTNAME` also names it on the events every other sink receives.",
          shown="the machine's name"),
    _core("enabled", "boolean", True, v.boolean,
          "`false` turns monitoring off: decorators return the function unchanged."),
    _core("sample_rate", "number, 0 to 1", 1.0, v.fraction,
          "Default fraction of monitored calls recorded."),
    _core("queue_size", "whole number > 0", 100_000, v.positive_int,
          "Events waiting to be dispatched before new ones are dropped (and counted)."),
    _core("sink_queue_size", "whole number > 0", 100_000, v.positive_int,
          "Events waiting for each sink before new ones are dropped (and counted)."),
    _core("batch_size", "whole number > 0", 1000, v.positive_int,
          "Most events written to a sink in one batch."),
    _core("batch_interval", "duration, at least 5ms", 1.0, v.interval,
          "Longest time an event waits for its batch."),
    _core("max_retries", "whole number >= 0", 5, v.non_negative_int,
          "Retries of a failed batch write before its events count as failed."),
    _core("retry_backoff", "duration", 0.5, v.parse_duration,
          "First retry delay; doubles each retry, with jitter."),
    _core("retry_max_backoff", "duration", 30.0, v.parse_duration,
          "Longest delay between two retries."),
    _core("shutdown_timeout", "duration", 5.0, v.parse_duration,
          "Time given to write queued events at exit or on SIGTERM."),
    _core("handle_sigterm", "boolean", True, v.boolean,
          "Flush on SIGTERM, then hand the signal to the previous handler."),
    _core("max_value_bytes", "whole number > 0", 64 * 1024, v.positive_int,
          "Longest captured string value, in UTF-8 bytes; a cut value ends "
          "`…[truncated: kept K of N bytes, cut C]`."),
    _core("max_event_bytes", "whole number > 0", 1024 * 1024, v.positive_int,
          "Largest JSON size of one event's fields, in bytes; the largest fields are replaced "
          "by a marker giving their size beyond it."),
    _core("redact_keys", "list of names", (), v.key_names,
          "More names whose values become `[REDACTED]`, also in values you named (`g`, "
          "`extra`, tags); exact, case-insensitive, `-` = `_` "
          "([monitor.md](monitor.md#redaction)). In the environment, names separated by commas."),
    _core("keep_keys", "list of names", (), v.key_names,
          "Names never redacted, even from the default list for captured headers and query "
          "arguments."),
    _core("retention", "duration or none", 30 * DAY, v.optional_duration,
          "Raw events and minute rollups older than this are deleted (`none` keeps them)."),
    _core("rollup_retention", "duration or none", 400 * DAY, v.optional_duration,
          "Hour rollups older than this are deleted (`none` keeps them)."),
    _core("store_process", "boolean", False, v.boolean,
          "Write the store from a helper process (one per application process): the writer's "
          "CPU leaves the application's process and its GIL. Helps request latency when the "
          "machine has idle cores; costs throughput when every core is busy, and not for short "
          "scripts (the helper takes about half a second to start). See "
          "[flask.md](flask.md#cost)."),
    _core("spool", "boolean", True, v.boolean,
          "Keep the store's batches on disk while it cannot be written, and replay them in "
          "order, once (other sinks: `spool = true` in their table). See "
          "[reliability.md](reliability.md)."),
    _core("spool_dir", "folder path", None, v.optional_text,
          "Where spools live.", shown="beside a SQLite file, else `~/.cache/lookout/spool`"),
    _core("spool_max_bytes", "whole number > 0", 256 * 1024 * 1024, v.positive_int,
          "Most bytes each sink's spool keeps; beyond is counted as overflow."),
    _core("spool_fsync", "`batch`, `off` or a duration", "batch", v.fsync_policy,
          "When spooled records reach the disk: after each batch, never explicitly, or at most "
          "this long after they are spooled."),
    _core("sinks", "list of tables", (), v.sink_specs,
          "More destinations, each a table with a `type` (`http`, `log`, `prometheus`, `otlp`, "
          "`cloudwatch`, `mongo`, `influx`) and that sink's options "
          "([sinks.md](sinks.md)); in the environment, the same as a JSON list."),
    _core("notifiers", "list of tables", (), v.notifier_specs,
          "Where messages for people go: tables with a `type` (`console`, `smtp`, `sendgrid`, "
          "`slack`, `webhook`) and its options ([notify.md](notify.md)); in the environment, a "
          "JSON list."),
    _core("alerts", "list of tables", (), v.alert_specs,
          "Alert rules: tables with a `type` (`error`, `error_rate`, `latency_p95`, "
          "`missed_run`) and its options ([alerts.md](alerts.md)); in the environment, a JSON "
          "list."),
    _core("apdex_threshold", "duration > 0", 0.5, v.positive_duration,
          "The dashboard's Apdex threshold T: responses up to T satisfy, up to 4 T are "
          "tolerated, slower ones frustrate ([dashboard.md](dashboard.md#apdex))."),
    _core("apdex_thresholds", "table of name = duration", (), v.durations_by_name,
          "T per endpoint or function name (`apdex_thresholds = {checkout = \"2s\"}`); in "
          "the environment, `checkout=2s,search=800ms`."),
    # --- LookoutFlask options ---------------------------------------------------------------
    _flask("track_g", "list of names, dict per method, or `\"all\"`", None,
           "`g` variables to record with each request ([flask.md](flask.md#g-variables))."),
    _flask("group_by", "callable", None, "Returns who the request is for (e.g. the user id)."),
    _flask("request_id_header", "header name", "X-Request-ID",
           "Header read for the caller's request id and echoed in the response."),
    _flask("request_id_generator", "callable", None,
           "Makes request ids when the header is missing or unsafe.",
           shown="32 random hex characters"),
    _flask("trusted_proxies", "whole number >= 0", 0,
           "Proxies in front of the app that append to `X-Forwarded-For` (and set "
           "`X-Forwarded-Proto`, which the dashboard believes for Secure cookies).",
           cli="--trusted-proxies"),
    _flask("raise_exceptions", "boolean", False,
           "Let errors from `group_by` and the id generator propagate (debugging)."),
    _flask("exclude_endpoints", "list of endpoint names", ("static",),
           "Endpoints never recorded."),
    _flask("record_user_agent", "boolean", True,
           "Record the user-agent family (`Chrome`, `curl`...)."),
    _flask("default_level", "0, 1, 2 or 3", 1,
           "Monitoring level of endpoints nobody set ([flask.md](flask.md#monitoring-levels))."),
    _flask("outlier_constant", "number", 2.5, "c in mean + c x stdev (or c x mean)."),
    _flask("outlier_rule", "`\"stdev\"` or `\"average\"`", "stdev",
           "`\"average\"`: outliers are slower than c x mean (Flask-MonitoringDashboard's rule)."),
    _flask("outlier_warmup", "whole number", 10,
           "Requests before an endpoint can have outliers."),
    _flask("sampler_interval", "seconds > 0", 0.005,
           "Time between two stack samples (levels 2 and 3)."),
    _flask("level_refresh_interval", "seconds > 0", 10.0,
           "Time between two reads of levels and thresholds from the store."),
    _flask("metrics_url", "URL path", None,
           "Serve Prometheus metrics here ([sinks.md](sinks.md))."),
    _flask("metrics_registry", "prometheus_client registry", None,
           "The registry served at `metrics_url`.", shown="the default registry"),
    # --- Dashboard options ------------------------------------------------------------------
    _dash("dashboard_url", "URL path or none", "/dashboard",
          "Where LookoutFlask mounts the dashboard; `None`: not mounted "
          "([dashboard.md](dashboard.md))."),
    _dash("dashboard_admin_user", "text", "admin", "The admin's login name."),
    _dash("dashboard_admin_password", "text", None,
          "The admin's password. Unset: one is generated at first start, stored hashed in the "
          "store (every process on it agrees) and printed once.",
          shown="generated", env="LOOKOUT_DASHBOARD_ADMIN_PASSWORD", cli="--admin-password"),
    _dash("dashboard_guest_user", "text", "guest", "The read-only login name."),
    _dash("dashboard_guest_passwords", "list of texts", (),
          "Passwords of the read-only login (the flag is repeatable; the variable holds them "
          "separated by spaces).",
          env="LOOKOUT_DASHBOARD_GUEST_PASSWORDS", cli="--guest-password"),
    _dash("dashboard_auth", "boolean", True,
          "`False`: no login at all, everyone is admin (local development only).",
          cli="--no-auth"),
    _dash("dashboard_colors", "dict", None,
          "CSS colours (`primary`, `error`, `ok`), and an endpoint's name for the colour of its "
          "charts."),
    _dash("dashboard_secure_cookies", "boolean", False,
          "Always mark the dashboard's cookies Secure (else only over HTTPS, seen directly or, "
          "behind `trusted_proxies`, by `X-Forwarded-Proto`).",
          cli="--secure-cookies"),
    _dash("dashboard_max_body_bytes", "whole number > 0", 1024 * 1024,
          "The largest request body the dashboard accepts (larger is a 413)."),
)
# fmt: on

BY_NAME = {setting.name: setting for setting in TABLE}


def group(name: str) -> tuple[Setting, ...]:
    """The rows of one group, in the table's order."""
    return tuple(setting for setting in TABLE if setting.group == name)


def default(name: str) -> Any:
    """A setting's default, for the dataclass field that declares it."""
    return BY_NAME[name].default
