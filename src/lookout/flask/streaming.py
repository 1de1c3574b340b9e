"""A streamed response's body, counted as it goes: the request ends when the WSGI server
closes it after the last chunk, not when the view returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from lookout.flask.context import RequestState


class CountingBody:
    """Wraps a streamed body: counts its bytes, and ends the request when the server closes it."""

    def __init__(
        self, body: Iterable[bytes], state: RequestState, on_close: Callable[[], None]
    ) -> None:
        self._body = body
        self._state = state
        self._on_close = on_close
        state.size = 0

    def __iter__(self) -> Iterator[bytes]:
        state = self._state
        for chunk in self._body:
            state.size = (state.size or 0) + len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()  # Flask pops a streamed request's context here, after teardown hooks
        finally:
            self._on_close()


#: Statuses that never have a body, so no Content-Length does not mean a streamed response.
EMPTY_STATUSES = ("1", "204", "304")
