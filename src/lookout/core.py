"""The :class:`Lookout` object: settings, the store, the Recorder and the decorators, together."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from lookout import (
    error_alerts,  # noqa: F401  (registers the error-group rule types)
    lifecycle,
)
from lookout._internal import swallow_internal_errors
from lookout.alerts import AlertEngine, AlertSink, Rule, build_rules
from lookout.coerce import Limits
from lookout.config import ConfigError, load_settings
from lookout.events import Event, make_event
from lookout.monitor import make_monitor
from lookout.notify import Message, Notifications, Notifier, build_notifier
from lookout.notify.base import Severity
from lookout.recorder import Recorder, RetryPolicy
from lookout.redact import Redactor
from lookout.sinks.base import Sink
from lookout.sinks.process import ProcessSink
from lookout.sinks.registry import build_sink
from lookout.sinks.sql import SqlSink
from lookout.spool import Spool, default_directory, wants_spool
from lookout.store.clickhouse.sink import ClickHouseSink
from lookout.store.clickhouse.url import is_clickhouse_url
from lookout.store.engine import SqlStore

if TYPE_CHECKING:
    from lookout.supervise import Supervisor

logger = logging.getLogger("lookout")

F = TypeVar("F", bound=Callable[..., Any])

_UNSET: Any = object()


class Lookout:
    """One monitoring setup: where events go and how they are captured.

    Args:
        store: database URL of the store (default ``sqlite:///lookout.db``); ``None`` keeps no
            store (events go only to ``sinks``).
        sinks: further destinations, each with its own queue and worker: Sink objects, or
            tables like the ``sinks`` setting's (``{"type": "http", "url": ..., "spool":
            True}``); they come after those of the ``sinks`` setting (lookout.toml or
            ``LOOKOUT_SINKS``).
        notifiers: where messages for people go (see :mod:`lookout.notify`), after those of
            the ``notifiers`` setting.
        alert_rules: alert rules (see :mod:`lookout.alerts`), after those of the ``alerts``
            setting; their messages go to the notifiers.
        config_file: a TOML file of settings (default ``$LOOKOUT_CONFIG`` or ``./lookout.toml``).
        **options: any other setting (see :class:`lookout.config.Settings`).

    Raises:
        lookout.config.ConfigError: a setting is unknown or invalid.
        lookout.store.engine.StoreConfigError: the store's driver is not installed.
    """

    def __init__(
        self,
        store: str | None = _UNSET,
        *,
        sinks: Sequence[Sink | Mapping[str, Any]] = (),
        notifiers: Sequence[Notifier] = (),
        alert_rules: Sequence[Rule] = (),
        config_file: str | Path | None = None,
        **options: Any,
    ) -> None:
        if store is not _UNSET:
            options["store"] = store
        self.settings, self.setting_sources = load_settings(options, config_file=config_file)
        settings = self.settings
        self._code_notifiers = list(notifiers)  # kept across reconfigure()
        self._close_callbacks: list[Callable[[], object]] = []
        self.notifications = Notifications(self._build_notifiers(notifiers))
        where = self.setting_sources.get("alerts", "settings")
        rules = [*build_rules(settings.alerts, where), *alert_rules]
        self.alerts = AlertEngine(self, rules) if rules else None
        if self.alerts is not None:
            sinks = [*sinks, AlertSink(self.alerts)]
        self.limits = Limits(settings.max_value_bytes, settings.max_event_bytes)
        self._sql_sink: SqlSink | None = None
        self.recorder = Recorder(
            self._build_sinks(sinks),
            queue_size=settings.queue_size,
            app_version=settings.app_version,
            limits=self.limits,
            redactor=Redactor(settings.redact_keys, settings.keep_keys),
            **self._worker_options(),
        )
        if self.alerts is not None:
            self.alerts.start()  # resolves conditions and notices quiet periods between events
        lifecycle.register(self)

    def _build_sinks(self, extra_sinks: Sequence[Sink | Mapping[str, Any]]) -> list[Sink]:
        settings = self.settings
        if not settings.enabled:
            return []
        sinks: list[Sink] = []
        self._sql_sink = None
        if settings.store is not None and is_clickhouse_url(settings.store):
            # Written in this process (store_process applies to SQL stores only, for now).
            self._sql_sink = ClickHouseSink(
                settings.store,
                retention_s=settings.retention,
                rollup_retention_s=settings.rollup_retention,
                hostname=settings.hostname,
            )
            sinks.append(self._sql_sink)
        elif settings.store is not None:
            self._sql_sink = SqlSink(
                settings.store,
                retention_s=settings.retention,
                rollup_retention_s=settings.rollup_retention,
                hostname=settings.hostname,
            )
            if settings.store_process:
                # The helper process writes; this one keeps the SqlSink for reads (levels,
                # dashboard) and closes it with the instance.
                sinks.append(
                    ProcessSink(
                        {
                            "type": "sql",
                            "url": settings.store,
                            "retention_s": settings.retention,
                            "rollup_retention_s": settings.rollup_retention,
                            "hostname": settings.hostname,
                        }
                    )
                )
                self.on_close(self._sql_sink.close)
            else:
                sinks.append(self._sql_sink)
        if settings.store is not None and settings.spool and wants_spool(settings.store):
            sinks[0].spool = self._spool(settings.store, "sql")  # type: ignore[attr-defined]
        where = self.setting_sources.get("sinks", "settings")
        for number, spec in enumerate(settings.sinks, 1):
            sinks.append(self._sink_from_table(spec, f"{where}: sinks[{number}]"))
        for number, extra in enumerate(extra_sinks, 1):
            if isinstance(extra, Mapping):
                sinks.append(self._sink_from_table(extra, f"Lookout(sinks=...)[{number}]"))
            else:
                sinks.append(extra)
        return sinks

    def _sink_from_table(self, spec: Mapping[str, Any], where: str) -> Sink:
        """A sink from its settings table (``type`` and options, ``spool = true`` for a disk
        spool of its own)."""
        try:
            options = dict(spec)
            spool = options.pop("spool", False)
            sink: Sink = build_sink(options)
            if spool is True:
                spooled = self._spool(repr(sorted(options.items())), sink.name)
                sink.spool = spooled  # type: ignore[attr-defined]
            return sink
        except (ValueError, TypeError, ModuleNotFoundError) as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def _spool(self, destination: str, name: str) -> Spool | None:
        """The sink's spool; None (and a warning) when its directory cannot be made: a spool
        is a safety net, and must not stop the application from starting."""
        settings = self.settings
        directory = (
            Path(settings.spool_dir, name + "-" + default_directory(destination, name).name)
            if settings.spool_dir
            else default_directory(destination, name)
        )
        try:
            return Spool(directory, max_bytes=settings.spool_max_bytes, fsync=settings.spool_fsync)
        except OSError as exc:
            logger.warning("lookout: no spool for sink %r in %s: %s", name, directory, exc)
            return None

    def _build_notifiers(self, extra: Sequence[Notifier]) -> list[Notifier]:
        notifiers: list[Notifier] = []
        for number, spec in enumerate(self.settings.notifiers, 1):
            try:
                notifiers.append(build_notifier(spec))
            except (ValueError, TypeError, ModuleNotFoundError) as exc:
                where = self.setting_sources.get("notifiers", "settings")
                raise ConfigError(f"{where}: notifiers[{number}]: {exc}") from None
        return [*notifiers, *extra]

    def _worker_options(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "sink_queue_size": settings.sink_queue_size,
            "batch_size": settings.batch_size,
            "batch_interval": settings.batch_interval,
            "retry": RetryPolicy(
                settings.max_retries, settings.retry_backoff, settings.retry_max_backoff
            ),
        }

    def reconfigure(
        self,
        store: str | None = _UNSET,
        *,
        sinks: Sequence[Sink | Mapping[str, Any]] = (),
        config_file: str | Path | None = None,
        **options: Any,
    ) -> None:
        """Apply new settings and sinks in place.

        Functions already decorated keep recording into this instance, so the module-level
        ``lookout.monitor`` works whether ``lookout.configure()`` runs before or after it.
        Changing ``queue_size`` or ``enabled`` needs a new instance.
        """
        if store is not _UNSET:
            options["store"] = store
        old = self.settings
        self.settings, self.setting_sources = load_settings(options, config_file=config_file)
        self.limits = Limits(self.settings.max_value_bytes, self.settings.max_event_bytes)
        self.notifications.notifiers = self._build_notifiers(self._code_notifiers)
        worker_options = self._worker_options()
        worker_options["queue_size"] = worker_options.pop("sink_queue_size")
        self.recorder.replace_sinks(
            self._build_sinks(sinks),
            app_version=self.settings.app_version,
            limits=self.limits,
            redactor=Redactor(self.settings.redact_keys, self.settings.keep_keys),
            timeout=old.shutdown_timeout,
            **worker_options,
        )

    @property
    def store(self) -> SqlStore | None:
        """The SQL store (opened on first use), or None when configured without one."""
        return self._sql_sink.store if self._sql_sink is not None else None

    @property
    def sinks(self) -> list[Sink]:
        return [worker.sink for worker in self.recorder.workers]

    # -- capture ------------------------------------------------------------------------------
    @overload
    def monitor(self, function: F, /) -> F: ...

    @overload
    def monitor(
        self,
        function: None = None,
        /,
        *,
        name: str | None = None,
        extra: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        sample_rate: float | None = None,
    ) -> Callable[[F], F]: ...

    def monitor(
        self,
        function: F | None = None,
        /,
        *,
        name: str | None = None,
        extra: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        sample_rate: float | None = None,
    ) -> F | Callable[[F], F]:
        """Record every call of the decorated function (``@lk.monitor`` or ``@lk.monitor(...)``).

        Args:
            name: the recorded name (default ``module.qualname``).
            extra: fields added to every call's event; callable values are called once per
                call with a :class:`lookout.monitor.CallInfo` and their result recorded.
            tags: low-cardinality labels (str to str) for every call.
            sample_rate: fraction of calls recorded (default: the ``sample_rate`` setting).
        """
        rate = self.settings.sample_rate if sample_rate is None else sample_rate

        def decorate(target: F) -> F:
            if not self.settings.enabled:
                return target
            return cast(
                F,
                make_monitor(
                    self.recorder,
                    target,
                    name=name,
                    extra=extra,
                    tags=tags,
                    sample_rate=rate,
                    limits=self.limits,
                ),
            )

        return decorate if function is None else decorate(function)

    def emit(self, event: Event) -> bool:
        """Queue a ready-made event (see :func:`lookout.events.make_event`); never blocks.

        Returns:
            False when the queue was full and the event was dropped (and counted).
        """
        return self.recorder.emit(event)

    # -- people -------------------------------------------------------------------------------
    def notify(
        self,
        message: Message | str,
        body: str = "",
        *,
        attachments: Sequence[str | Path] = (),
        severity: Severity = "info",
        via: Notifications | None = None,
    ) -> dict[str, str | None]:
        """Send a message through every notifier (``lk.notify("Subject", "body")`` or a
        :class:`~lookout.notify.Message`).

        Blocks while sending (with retries); a failing notifier never stops the others and
        never raises: the outcome per notifier is returned (None = sent, else the error),
        counted in ``stats()["notifiers"]`` and recorded as a ``message`` event. ``via``
        sends through other notifiers than this instance's.
        """
        if isinstance(message, str):
            message = Message(message, body, attachments=attachments, severity=severity)
        started = time.time_ns()
        outcomes = (via or self.notifications).send(message)
        for notifier, error in outcomes.items():
            self.emit(
                make_event(
                    "message",
                    f"notify.{notifier}",
                    start_ns=started,
                    duration_ns=time.time_ns() - started,
                    outcome="ok" if error is None else "error",
                    fields={
                        "subject": message.subject,
                        "severity": message.severity,
                        **({} if error is None else {"error": error}),
                    },
                )
            )
        return outcomes

    def supervise(self, name: str, **options: Any) -> Supervisor:
        """Watch over a script or job: ``with lk.supervise("nightly-import"):`` or as a
        decorator. See :class:`lookout.supervise.Supervisor` for the options."""
        from lookout.supervise import Supervisor

        return Supervisor(name, lookout=self, **options)

    # -- lifecycle ----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters as a plain dict (see :meth:`lookout.recorder.Recorder.stats`), with each
        notifier's under ``notifiers``."""
        return {**self.recorder.stats(), "notifiers": self.notifications.stats()}

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything captured so far is written; False if ``timeout`` ran out."""
        return self.recorder.flush(timeout)

    def on_close(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when this instance closes (integrations stop their threads)."""
        self._close_callbacks.append(callback)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is queued and release everything; later events are not recorded."""
        lifecycle.unregister(self)
        for callback in self._close_callbacks:
            with swallow_internal_errors("closing an integration"):
                callback()
        self._close_callbacks.clear()
        return self.recorder.close(self.settings.shutdown_timeout if timeout is None else timeout)

    def __enter__(self) -> Lookout:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self._sql_sink.url if self._sql_sink else "no store"
        return f"<Lookout {where}, {len(self.recorder.workers)} sink(s)>"
