"""The end of a recorded session: the run goes to its destinations, then the gate looks at it.

Destinations are a store (written directly) and a dashboard (one POST). Whatever fails, the
session's exit status stays what pytest made it: the run is written to a file instead, and one
line says where and how to send it later. Only the gate, when asked for, sets a failing status.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from lookout.pytest_plugin.collect import Collector
from lookout.testruns.document import RunDocument

#: The exit status of a session whose tests passed but that the gate failed (pytest's own
#: "tests failed"), so CI treats it like any failing suite.
GATE_EXIT_STATUS = 1


def _one_line(error: BaseException) -> str:
    """An error in one short line: driver errors span several (SQL, hints, background)."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


class Finish:
    def __init__(
        self,
        config: pytest.Config,
        *,
        repeat: int,
        store: str | None,
        submit_url: str | None,
        token: str | None,
        version: str | None,
    ) -> None:
        self.config = config
        self.collector = Collector(repeat)
        self.store_url = store
        self.submit_url = submit_url
        self.token = token
        self.version = version
        self.lines: list[str] = []
        self.gate_lines: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.collector.pytest_runtest_logreport(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        try:
            document = self._document(int(exitstatus))
        except Exception as exc:  # never let Lookout break the session
            self.lines.append(f"lookout: the run could not be recorded ({exc!r})")
            return
        self._deliver(document)
        try:
            failed_gate = self._gate(document)
        except Exception as exc:
            self.gate_lines.append(
                f"lookout: the comparison with the baseline failed ({_one_line(exc)})"
            )
            failed_gate = False
        if failed_gate and session.exitstatus == 0:
            session.exitstatus = GATE_EXIT_STATUS

    def _document(self, exit_status: int) -> RunDocument:
        from lookout.testruns.identity import detect

        identity = detect(self.config.rootpath, version=self.version)
        return self.collector.document(exit_status, identity.as_dict())

    def _deliver(self, document: RunDocument) -> None:
        """Store and/or submit; keep the run in a file when either fails."""
        problems = []
        where = None
        tests = len(document.results)
        if self.store_url:
            try:
                where = self._store(document)
            except Exception as exc:
                problems.append(
                    f"storing into {self._safe(self.store_url)} failed ({_one_line(exc)})"
                )
        if self.submit_url:
            from lookout.testruns.submit import SubmitError, submit

            try:
                answer = submit(document, self.submit_url, self.token)
                where = f"run {answer.get('run_id')} on {self.submit_url}"
            except SubmitError as exc:
                problems.append(f"submitting failed: {_one_line(exc)}")
        if not problems:
            self.lines.append(f"lookout: {tests} tests recorded as {where}")
            return
        path = self._keep(document)
        again = (
            f"lookout tests submit {path} --url {self.submit_url}"
            if self.submit_url
            else f"lookout tests submit {path} --store URL"
        )
        self.lines.append(
            f"lookout: {'; '.join(problems)}; the run is kept in {path} (send it later: {again})"
        )

    def _store(self, document: RunDocument) -> str:
        from lookout.store.opening import open_store
        from lookout.testruns.records import save_run

        store = open_store(str(self.store_url))  # clickhouse://: runs go to its settings store
        try:
            run_id, _ = save_run(store, document)
        finally:
            store.close()
        return f"run {run_id} in {store.safe_url}"

    @staticmethod
    def _safe(url: str) -> str:
        from lookout.store.engine import normalize_url

        try:
            return normalize_url(url).render_as_string(hide_password=True)
        except Exception:
            return "the store"

    def _keep(self, document: RunDocument) -> Path:
        chosen = self.config.getoption("--lookout-results-file")
        if chosen:
            path = Path(chosen)
        else:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(document.started_ns / 1e9))
            path = self.config.rootpath / ".lookout" / "test-runs" / f"{stamp}-{document.key}.json"
        document.write(path)
        return path

    # -- the gate ----------------------------------------------------------------------------
    def _gate(self, document: RunDocument) -> bool:
        """Compare with ``--lookout-baseline``; True when ``--lookout-fail-on-regression``
        is given and some test got significantly slower than it."""
        ref = self.config.getoption("--lookout-baseline")
        if not ref:
            return False
        from lookout.testruns.compare import compare, parse_threshold, regressions, summary_line
        from lookout.testruns.render import table_lines

        label, base = self._baseline(ref, document.key)
        head = {r.name: r.durations_ns for r in document.results if r.outcome == "passed"}
        changes = compare(base, head, alpha=self.config.getoption("--lookout-alpha"))
        self.gate_lines.append(f"lookout: this run against {label}: {summary_line(changes)}")
        self.gate_lines.extend(table_lines(changes))
        threshold_text = self.config.getoption("--lookout-fail-on-regression")
        if threshold_text is None:
            return False
        threshold = parse_threshold(threshold_text)
        slower = regressions(changes, threshold)
        if slower:
            self.gate_lines.append(
                f"lookout: FAILED: {len(slower)} test(s) significantly slower by "
                f"{threshold:.0%} or more than {label}"
            )
        return bool(slower)

    def _baseline(self, ref: str, own_key: str) -> tuple[str, dict[str, list[int]]]:
        if self.store_url:
            from lookout.store.opening import open_store
            from lookout.testruns.records import durations_by_test, resolve

            store = open_store(str(self.store_url))
            try:
                found = resolve(store, ref, exclude_key=own_key)
                return found.label, durations_by_test(store, found.run_ids)
            finally:
                store.close()
        from lookout.testruns.submit import fetch_samples

        return fetch_samples(str(self.submit_url), self.token, ref)

    # -- output ------------------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self.gate_lines:
            terminalreporter.write_line(line)
        for line in self.lines:
            terminalreporter.write_line(line)
