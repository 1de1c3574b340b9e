"""The HTTP sink: POST events to any endpoint, batched or one request per event.

Retries follow HTTP's meaning: connection errors, timeouts, 429 and 5xx are transient (the
Recorder retries them with backoff, waiting at least what ``Retry-After`` asks); any other 4xx
means the request itself is wrong, so those events count as failed at once. TLS certificates
are verified unless told otherwise.
"""

from __future__ import annotations

import email.utils
import gzip
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from lookout._internal import optional_dependency
from lookout.events import Event, event_document
from lookout.jsontext import to_json_bytes
from lookout.sinks.base import BaseSink, BatchMemo, InvalidData, PermanentWriteError, RetryLater

with optional_dependency("http", "the HTTP sink"):
    import requests

PayloadGenerator = Callable[[Any], Any]
HeaderValue = str | Callable[[Any], Any]


def default_payload(events_or_event: Sequence[Event] | Event) -> Any:
    """A JSON array of event documents (batched), or one document (per event)."""
    if isinstance(events_or_event, Event):
        return event_document(events_or_event)
    return [event_document(event) for event in events_or_event]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def check_delivery(
    response: requests.Response,
    success_status_codes: Collection[int],
    what: str,
    rejected: Callable[[requests.Response], int | None] | None = None,
) -> None:
    """Return when ``response`` means delivered; otherwise raise what HTTP's status means.

    429 and 5xx raise :class:`RetryLater` (with ``Retry-After`` when given): try again later.
    400, 413 and 422 raise :class:`InvalidData` (the body was refused: split the batch); any
    other status raises :class:`PermanentWriteError`: the request itself is wrong.
    """
    status = response.status_code
    if status in success_status_codes:
        return
    detail = f"{what} answered {status}: {response.text[:200]!r}"
    if status == 429 or status >= 500:
        raise RetryLater(detail, parse_retry_after(response.headers.get("Retry-After")))
    refused = None if rejected is None else rejected(response)
    if status in DATA_REFUSALS:
        raise InvalidData(detail, rejected=refused)
    raise PermanentWriteError(detail, rejected=refused)


#: Statuses that blame the body (bad request, too large, unprocessable): the Recorder splits the
#: batch to find the events at fault. Others (401, 403, 404...) blame the request itself.
DATA_REFUSALS = frozenset({400, 413, 422})


class HttpSink(BaseSink):
    """Sends events to an HTTP endpoint.

    Args:
        url: where to send.
        method: HTTP method (default POST).
        headers: static values, or callables called with the batch (or the event, per event)
            each time; ``Content-Type: application/json`` is added unless given.
        payload_generator: turns the batch (or the event) into the body: bytes and str are
            sent as they are, anything else as JSON. Default: event documents.
        per_event: one request per event instead of one per batch.
        gzip_body: compress the body (``Content-Encoding: gzip``).
        verify: verify TLS certificates (default True), or a CA bundle path.
        success_status_codes: statuses that mean written (default 200, 201, 202, 204).
        timeout: seconds for connecting and for reading the answer.
    """

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        headers: Mapping[str, HeaderValue] | None = None,
        payload_generator: PayloadGenerator | None = None,
        per_event: bool = False,
        gzip_body: bool = False,
        verify: bool | str = True,
        success_status_codes: Collection[int] = (200, 201, 202, 204),
        timeout: float = 10.0,
    ) -> None:
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(
                f"HttpSink: timeout must be a number of seconds above 0; got {timeout!r}"
            )
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"HttpSink: url must start with http:// or https://; got {url!r}")
        self.url = url
        self.method = method.upper()
        self.headers = dict(headers or {})
        self.payload_generator = payload_generator or default_payload
        self.per_event = per_event
        self.gzip_body = gzip_body
        self.verify = verify
        self.success_status_codes = frozenset(success_status_codes)
        self.timeout = timeout
        self._session = requests.Session()
        # Per-event mode: events of the current batch already delivered, so a retry of the
        # batch does not send them twice.
        self._delivered: BatchMemo[set[int]] = BatchMemo(lambda _: set())

    def write(self, batch: Sequence[Event]) -> None:
        if not self.per_event:
            self._send(batch)
            return
        delivered = self._delivered.get(batch)
        for index, event in enumerate(batch):
            if index not in delivered:
                self._send(event)
                delivered.add(index)

    def _send(self, subject: Sequence[Event] | Event) -> None:
        headers = {
            name: str(value(subject)) if callable(value) else value
            for name, value in self.headers.items()
        }
        body = self.payload_generator(subject)
        if isinstance(body, str):
            data = body.encode("utf-8")
        elif isinstance(body, bytes):
            data = body
        else:
            data = to_json_bytes(body)
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        if self.gzip_body:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        response = self._session.request(
            self.method,
            self.url,
            data=data,
            headers=headers,
            verify=self.verify,
            timeout=self.timeout,
        )
        check_delivery(
            response,
            self.success_status_codes,
            f"{self.method} {self.url}",
            rejected=self.rejected_count,
        )

    def rejected_count(self, response: requests.Response) -> int | None:
        """How many events a refusing answer says were left out, when the endpoint writes
        the rest (a partial write); None means the whole request was refused."""
        return None

    def after_fork(self) -> None:
        self._session = requests.Session()  # never share pooled sockets with the parent

    def close(self) -> None:
        self._session.close()

    def check(self) -> str:
        response = self._session.request("HEAD", self.url, verify=self.verify, timeout=self.timeout)
        return f"{self.url}: reachable (HEAD answered {response.status_code}); nothing written"
