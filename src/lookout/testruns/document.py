"""One test run as a JSON document: what the plugin sends to every destination.

The same document is written to a store, POSTed to a dashboard's API and kept in a file when
that POST fails (``lookout tests submit FILE`` sends the file later), so the three paths cannot
disagree about what a run holds. Durations are integers in nanoseconds. :func:`parse` checks a
document from outside (the API, a file) and says which field is wrong.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "lookout.tests/1"
#: Stored names are indexed, so they are bounded; a longer node id keeps a hash of the whole
#: so that two long parametrised ids stay apart.
MAX_NAME_CHARS = 255
MAX_MESSAGE_CHARS = 2000
MAX_TRACEBACK_CHARS = 20_000
OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")
#: Run fields that come from :class:`~lookout.testruns.identity.RunIdentity`.
IDENTITY_FIELDS = (
    "version",
    "commit",
    "branch",
    "dirty",
    "ci_provider",
    "ci_run_id",
    "ci_url",
    "python",
    "platform",
    "host",
)


def bound_name(name: str) -> str:
    if len(name) <= MAX_NAME_CHARS:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{name[: MAX_NAME_CHARS - 14]}…~{digest}"


@dataclass
class EndpointHits:
    """The requests one test made to one Flask endpoint, each request's duration."""

    endpoint: str
    method: str
    durations_ns: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "method": self.method, "durations_ns": self.durations_ns}


@dataclass
class TestResult:
    """One test of a run. ``durations_ns`` holds one call duration per repeat (empty when the
    call never ran: skipped, or setup failed)."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    outcome: str
    setup_ns: int = 0
    teardown_ns: int = 0
    durations_ns: list[int] = field(default_factory=list)
    worker: str = ""
    message: str | None = None
    traceback: str | None = None
    endpoints: list[EndpointHits] = field(default_factory=list)

    @property
    def call_ns(self) -> int:
        """The median call duration over the repeats (0 when the call never ran)."""
        return int(statistics.median(self.durations_ns)) if self.durations_ns else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "setup_ns": self.setup_ns,
            "teardown_ns": self.teardown_ns,
            "durations_ns": self.durations_ns,
            "worker": self.worker,
            "message": self.message,
            "traceback": self.traceback,
            "endpoints": [hits.as_dict() for hits in self.endpoints],
        }


@dataclass
class RunDocument:
    """A whole run: its identity and timing (``run``) and its tests (``results``)."""

    key: str
    started_ns: int
    duration_ns: int
    exit_status: int
    repeat: int
    identity: dict[str, Any]
    results: list[TestResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "run": {
                "key": self.key,
                "started_ns": self.started_ns,
                "duration_ns": self.duration_ns,
                "exit_status": self.exit_status,
                "repeat": self.repeat,
                **{name: self.identity.get(name) for name in IDENTITY_FIELDS},
            },
            "results": [result.as_dict() for result in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"))

    def write(self, path: Path) -> None:
        """Write the document to ``path`` (whole or not at all: through a temporary file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(self.to_json(), encoding="utf-8")
        partial.replace(path)


def _int(value: Any, where: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return value


def _str(value: Any, where: str, *, limit: int, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {type(value).__name__}")
    return value[:limit]


def _durations(value: Any, where: str) -> list[int]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of nanosecond integers")
    return [_int(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _result(raw: Any, where: str) -> TestResult:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object")
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        raise ValueError(f"{where}.outcome: expected one of {', '.join(OUTCOMES)}")
    name = _str(raw.get("name"), f"{where}.name", limit=10_000)
    if not name:
        raise ValueError(f"{where}.name: a test needs a name")
    endpoints = []
    for j, hit in enumerate(raw.get("endpoints") or []):
        at = f"{where}.endpoints[{j}]"
        if not isinstance(hit, dict):
            raise ValueError(f"{at}: expected an object")
        endpoints.append(
            EndpointHits(
                endpoint=_str(hit.get("endpoint"), f"{at}.endpoint", limit=MAX_NAME_CHARS),
                method=_str(hit.get("method"), f"{at}.method", limit=16),
                durations_ns=_durations(hit.get("durations_ns"), f"{at}.durations_ns"),
            )
        )
    return TestResult(
        name=bound_name(name),
        outcome=outcome,
        setup_ns=_int(raw.get("setup_ns", 0), f"{where}.setup_ns"),
        teardown_ns=_int(raw.get("teardown_ns", 0), f"{where}.teardown_ns"),
        durations_ns=_durations(raw.get("durations_ns", []), f"{where}.durations_ns"),
        worker=_str(raw.get("worker"), f"{where}.worker", limit=32),
        message=_str(
            raw.get("message"), f"{where}.message", limit=MAX_MESSAGE_CHARS, optional=True
        ),
        traceback=_str(
            raw.get("traceback"), f"{where}.traceback", limit=MAX_TRACEBACK_CHARS, optional=True
        ),
        endpoints=endpoints,
    )


def parse(raw: Any) -> RunDocument:
    """A :class:`RunDocument` from decoded JSON; ``ValueError`` names the first bad field."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError(f"format: expected a {FORMAT!r} document")
    run = raw.get("run")
    if not isinstance(run, dict):
        raise ValueError("run: expected an object")
    key = _str(run.get("key"), "run.key", limit=64)
    if not key:
        raise ValueError("run.key: a run needs a key")
    results = raw.get("results")
    if not isinstance(results, list):
        raise ValueError("results: expected a list")
    identity: dict[str, Any] = {}
    for name in IDENTITY_FIELDS:
        if name == "dirty":
            identity[name] = bool(run.get(name))
        else:
            identity[name] = _str(run.get(name), f"run.{name}", limit=2000)
    return RunDocument(
        key=key,
        started_ns=_int(run.get("started_ns"), "run.started_ns"),
        duration_ns=_int(run.get("duration_ns", 0), "run.duration_ns"),
        exit_status=_int(run.get("exit_status", 0), "run.exit_status"),
        repeat=_int(run.get("repeat", 1), "run.repeat", minimum=1),
        identity=identity,
        results=[_result(item, f"results[{i}]") for i, item in enumerate(results)],
    )


def read(path: Path) -> RunDocument:
    """A run document from a file the plugin kept."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON document ({exc})") from None
    return parse(raw)
