"""Send a run document to a running dashboard's API: one gzipped POST, retried.

The dashboard stores it (``POST <dashboard>/api/tests/runs``, a token with the admin role). What
fails for a reason that may pass (no connection, a timeout, 429, 502, 503, 504) is tried again
after 0.5, 1 and 2 seconds; anything else (a bad token, a refused document) is not. The caller
keeps the document in a file when this raises, and ``lookout tests submit FILE`` tries again.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from typing import Any

from lookout.testruns.document import RunDocument

API_PATH = "/api/tests/runs"
RETRY_DELAYS_S = (0.5, 1.0, 2.0)
TIMEOUT_S = 30.0
_TRANSIENT = (429, 502, 503, 504)


class SubmitError(RuntimeError):
    """The dashboard did not take the run; the message says why, in one line."""


def endpoint_url(url: str) -> str:
    """The API address for a dashboard's address (``http://host/dashboard``), or the API
    address itself."""
    trimmed = url.rstrip("/")
    return trimmed if trimmed.endswith(API_PATH) else trimmed + API_PATH


def submit(
    document: RunDocument,
    url: str,
    token: str | None,
    *,
    delays: tuple[float, ...] = RETRY_DELAYS_S,
    timeout: float = TIMEOUT_S,
) -> dict[str, Any]:
    """POST the run; returns the dashboard's answer (``run_id``, ``created``).

    Raises:
        SubmitError: after the last try, or at once for an answer that retrying cannot change.
    """
    body = gzip.compress(document.to_json().encode(), compresslevel=5)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    target = endpoint_url(url)
    reason = ""
    for attempt in range(len(delays) + 1):
        if attempt:
            time.sleep(delays[attempt - 1])
        request = urllib.request.Request(target, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace").strip()
            reason = f"HTTP {exc.code}" + (f": {detail}" if detail else "")
            if exc.code not in _TRANSIENT:
                raise SubmitError(f"{target} answered {reason}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = str(getattr(exc, "reason", exc))
    raise SubmitError(f"{target} could not be reached after {len(delays) + 1} tries ({reason})")


def fetch_samples(url: str, token: str | None, ref: str) -> tuple[str, dict[str, list[int]]]:
    """A reference's label and its tests' durations, from a dashboard
    (``GET <dashboard>/api/tests/samples?ref=REF``), for a gate that has no store of its own.

    Raises:
        SubmitError: the dashboard could not answer, or knows no such run.
    """
    import urllib.parse

    base = endpoint_url(url)[: -len(API_PATH)]
    target = f"{base}/api/tests/samples?{urllib.parse.urlencode({'ref': ref})}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(target, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace").strip()
        raise SubmitError(f"{target} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise SubmitError(f"{target} could not be reached ({exc})") from None
    samples = {str(name): [int(v) for v in values] for name, values in answer["tests"].items()}
    return str(answer["label"]), samples
