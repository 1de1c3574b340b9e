"""Supervision of scheduled scripts: a ``run`` event per run, and messages when they fail.

    with lk.supervise("nightly-import", log_path="import.log", schedule="0 3 * * *") as run:
        rows = do_import()
        run.summary(f"{rows} rows imported")

A run records its start, duration, outcome and exit code, a summary and custom fields. An
uncaught error (in the ``with`` block, or anywhere once ``start()`` has installed the hooks)
is logged to the given logger, recorded, and sent to every notifier with the log file gzipped;
then Python's usual handling goes on, so the script still prints its traceback and exits
non-zero. A run that succeeds sends one summary message (``send_summary=False`` turns it off).
A declared ``schedule`` (an interval like ``"1h"`` or a cron expression) lets an alert rule
notice a run that never happened (:class:`lookout.alerts.MissedHeartbeat`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lookout.events import describe_error, make_event
from lookout.notify.base import Message, Notifications, Notifier

if TYPE_CHECKING:
    from lookout.host import Recording


class Supervisor(contextlib.ContextDecorator):
    """Watches one run of a job.

    Use it as a context manager, as a decorator, or call :meth:`start` early in a long script
    and let it finish at exit.

    Args:
        name: the job's name (one per scheduled script).
        lookout: where the run is recorded and whose notifiers are used (``lk.supervise()``
            passes itself).
        notifiers: more notifiers for this job's messages only.
        logger: uncaught errors are logged here at ERROR, with their traceback.
        handle_errors: install ``sys.excepthook`` and ``threading.excepthook`` while running
            (chained to the ones before, restored after); False leaves them alone.
        log_path: the script's log file, attached (gzipped) to its messages.
        attachments: more files to attach.
        schedule: when the job is expected to run: an interval (``"15m"``, ``3600``) or a cron
            expression (``"0 3 * * *"``), for missed-run alerts.
        send_summary: send a message when the run succeeds, too.
        fields: custom values recorded with the run.
    """

    def __init__(
        self,
        name: str,
        *,
        lookout: Recording,
        notifiers: Sequence[Notifier] = (),
        logger: logging.Logger | None = None,
        handle_errors: bool = True,
        log_path: str | Path | None = None,
        attachments: Sequence[str | Path] = (),
        schedule: str | float | None = None,
        send_summary: bool = True,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        if schedule is not None:
            from lookout.alerts import parse_schedule

            parse_schedule(schedule)  # a bad schedule fails now, not at alert time
        self.name = name
        self.lookout = lookout
        self._extra_notifiers = list(notifiers)
        self.logger = logger
        self.handle_errors = handle_errors
        self.attachments = [*([log_path] if log_path is not None else []), *attachments]
        self.schedule = schedule
        self.send_summary = send_summary
        self.fields: dict[str, Any] = dict(fields or {})
        self._summary: list[str] = []
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._started_ns: int | None = None
        self._started_perf = 0.0
        self._finished = False
        self._thread_errors = 0
        self._previous_hooks: tuple[Any, Any] | None = None

    # -- the run ----------------------------------------------------------------------------
    def start(self) -> Supervisor:
        """Begin the run: note the time and install the error hooks (if ``handle_errors``).

        A run not finished explicitly finishes when the interpreter exits.
        """
        with self._lock:
            self._reset()
            self._summary = []
            self._started_ns = time.time_ns()
            self._started_perf = time.perf_counter()
            if self.handle_errors:
                self._previous_hooks = (sys.excepthook, threading.excepthook)
                sys.excepthook = self._excepthook
                threading.excepthook = self._thread_excepthook
            atexit.register(self._at_exit)
        return self

    def add_notifier(self, notifier: Notifier) -> None:
        """Send this job's messages through ``notifier`` too."""
        self._extra_notifiers.append(notifier)

    def summary(self, text: str) -> None:
        """Add a line to the run's summary (recorded, and sent in the summary message)."""
        self._summary.append(str(text))

    def notify(
        self, message: Message | str, body: str = "", *, attachments: Sequence[str | Path] = ()
    ) -> dict[str, str | None]:
        """Send a message now through the Lookout's notifiers and this job's own."""
        if isinstance(message, str):
            message = Message(message, body, attachments=attachments)
        return self.lookout.notify(message, via=self._notifications())

    def finish(
        self,
        error: BaseException | None = None,
        tb: TracebackType | None = None,
        exit_code: int | None = None,
    ) -> None:
        """End the run: restore the hooks, record it, send the summary or the error."""
        with self._lock:
            if self._finished or self._started_ns is None:
                return
            self._finished = True
            self._restore_hooks()
            atexit.unregister(self._at_exit)
        if isinstance(error, SystemExit):
            code = error.code
            exit_code = code if isinstance(code, int) else (0 if code is None else 1)
            error = None if exit_code == 0 else error
        elif error is not None and exit_code is None:
            exit_code = 1
        failed = error is not None or self._thread_errors > 0
        duration_ns = int((time.perf_counter() - self._started_perf) * 1e9)
        if error is not None and self.logger is not None:
            self.logger.error("%s failed: %s", self.name, error, exc_info=(type(error), error, tb))
        fields: dict[str, Any] = {**self.fields}
        if self._summary:
            fields["summary"] = "\n".join(self._summary)
        if self.schedule is not None:
            fields["schedule"] = self.schedule
        if self._thread_errors:
            fields["thread_errors"] = self._thread_errors
        self.lookout.emit(
            make_event(
                "run",
                self.name,
                start_ns=self._started_ns,
                duration_ns=duration_ns,
                outcome="error" if failed else "ok",
                status=exit_code if exit_code is not None else 0,
                fields=fields,
                error=_with_traceback(error, tb),
            )
        )
        if error is not None:
            self._send_error(error, tb, duration_ns)
        elif self.send_summary:
            self._send_summary(duration_ns, failed)
        self.lookout.flush(10)  # a script exits right after: the run must be written first

    # -- context manager and decorator --------------------------------------------------------
    def __enter__(self) -> Supervisor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(exc, tb)  # the error goes on (a failed script must still fail)

    # -- hooks ------------------------------------------------------------------------------
    def _excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        previous = self._previous_hooks[0] if self._previous_hooks else sys.__excepthook__
        try:
            self.finish(exc, tb)
        finally:
            previous(exc_type, exc, tb)  # prints the traceback as Python would

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        previous = self._previous_hooks[1] if self._previous_hooks else threading.__excepthook__
        try:
            if args.exc_type is not SystemExit and args.exc_value is not None:
                self._thread_errors += 1
                thread = args.thread.name if args.thread is not None else "a thread"
                if self.logger is not None:
                    self.logger.error(
                        "%s: uncaught error in %s",
                        self.name,
                        thread,
                        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
                    )
                text = "".join(
                    traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
                )
                self.notify(
                    Message(
                        f"{self.name}: uncaught error in thread {thread}",
                        text,
                        attachments=self.attachments,
                        severity="error",
                    )
                )
        finally:
            previous(args)

    def _restore_hooks(self) -> None:
        if self._previous_hooks is not None:
            if sys.excepthook == self._excepthook:
                sys.excepthook = self._previous_hooks[0]
            if threading.excepthook == self._thread_excepthook:
                threading.excepthook = self._previous_hooks[1]
            self._previous_hooks = None

    def _at_exit(self) -> None:
        self.finish()

    # -- messages ---------------------------------------------------------------------------
    def _notifications(self) -> Notifications | None:
        if not self._extra_notifiers:
            return None
        base = self.lookout.notifications
        combined = Notifications([*base.notifiers, *self._extra_notifiers], retry=base.retry)
        combined.counters = base.counters  # one set of counters per Lookout
        return combined

    def _send_error(self, error: BaseException, tb: TracebackType | None, duration_ns: int) -> None:
        type_name, message, _ = describe_error(error)
        text = "".join(traceback.format_exception(type(error), error, tb or error.__traceback__))
        body = f"{self.name} failed after {_seconds(duration_ns)}.\n\n{text}"
        if self._summary:
            body += "\nSummary so far:\n" + "\n".join(self._summary)
        subject = f"{self.name} failed: {type_name}: {message}".splitlines()[0][:200]
        self.notify(Message(subject, body, attachments=self.attachments, severity="error"))

    def _send_summary(self, duration_ns: int, failed: bool) -> None:
        state = "finished with errors in threads" if failed else "succeeded"
        lines = [f"{self.name} {state} in {_seconds(duration_ns)}."]
        if self._summary:
            lines += ["", *self._summary]
        if self.fields:
            lines += ["", *(f"{key}: {value}" for key, value in self.fields.items())]
        self.notify(
            Message(
                f"{self.name} {state} in {_seconds(duration_ns)}",
                "\n".join(lines),
                attachments=self.attachments,
                severity="error" if failed else "info",
            )
        )


def _with_traceback(error: BaseException | None, tb: TracebackType | None) -> BaseException | None:
    if error is not None and tb is not None and error.__traceback__ is None:
        error = error.with_traceback(tb)
    return error


def _seconds(duration_ns: int) -> str:
    seconds = duration_ns / 1e9
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"
