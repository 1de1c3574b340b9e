"""``@lk.monitor``: record every call of a function with almost no cost to the call.

The wrapper's hot path is two ``perf_counter_ns()`` readings, a length check and a
``deque.append`` of a small tuple ``(spec, t0, t1, error, traceback, fields)``; everything else
(the epoch timestamp, the traceback text, redaction, the Event itself) is built later by the
Recorder's dispatcher thread through :meth:`CallSpec.build_event`. Per-call ``extra`` callables
are the one thing that has to run in the caller's thread, because they look at the call; they
run only when given, and an extra that raises is recorded, never propagated.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from lookout._internal import swallow_internal_errors
from lookout.coerce import (
    DEFAULT_LIMITS,
    JSONValue,
    Limits,
    bound_str,
    coerce,
    coerce_fields,
    make_safe,
)
from lookout.events import ERROR, HOSTNAME, OK, Event, bound_name, describe_error

if TYPE_CHECKING:
    from lookout.recorder import BuildContext, Recorder

P = ParamSpec("P")
R = TypeVar("R")

_perf_ns = time.perf_counter_ns


class CallInfo:
    """What a per-call ``extra`` callable is given about the call that just ended.

    Attributes:
        function: the monitored name (``module.qualname`` unless ``name=`` was given).
        args: positional arguments as passed.
        kwargs: keyword arguments as passed.
        result: the return value (None when the call raised; for generators, None).
        error: the exception the call raised, if any.
        duration_s: how long the call took, in seconds.
    """

    # A plain slotted class: built on every call that has a per-call extra, so it must be cheap
    # (a frozen dataclass's __init__ costs several times more).
    __slots__ = ("args", "duration_s", "error", "function", "kwargs", "result")

    def __init__(
        self,
        function: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        result: Any,
        error: BaseException | None,
        duration_s: float,
    ) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.result = result
        self.error = error
        self.duration_s = duration_s

    def __repr__(self) -> str:
        return f"CallInfo({self.function!r}, duration_s={self.duration_s:.6f})"


class CallSpec:
    """Everything about a monitored function that does not change between calls.

    It is also the :class:`~lookout.recorder.CaptureSource` for that function's captured tuples.
    """

    __slots__ = ("dynamic_extra", "limits", "name", "static_fields", "tags")

    def __init__(
        self,
        name: str,
        *,
        extra: Mapping[str, Any] | None,
        tags: Mapping[str, Any] | None,
        limits: Limits,
    ) -> None:
        self.name = bound_name(name)
        self.limits = limits
        extra = dict(extra or {})
        self.dynamic_extra = {key: value for key, value in extra.items() if callable(value)}
        self.static_fields = make_safe(
            coerce_fields(
                {key: value for key, value in extra.items() if not callable(value)}, limits
            )
        )
        self.tags = make_safe({str(k): bound_str(str(v), 256) for k, v in (tags or {}).items()})

    def evaluate_extra(self, info: CallInfo) -> dict[str, JSONValue]:
        """Run the per-call ``extra`` callables; one that raises becomes an error field."""
        fields: dict[str, JSONValue] = {}
        for key, function in self.dynamic_extra.items():
            try:
                fields[key] = coerce(function(info), self.limits)
            except Exception as exc:
                fields[key] = None
                fields[f"{key}.error"] = bound_str(_describe_exception(exc), 1024)
        return fields

    def build_event(self, item: tuple[Any, ...], context: BuildContext) -> Event:
        _, t0, t1, error, tb, dynamic = item
        fields = self.static_fields
        if dynamic:
            fields = {**fields, **dynamic}
        outcome, error_type, message, tb_text = OK, None, None, None
        if error is not None:
            outcome = ERROR
            error_type, message, tb_text = describe_error(error, context.limits, tb)
        return Event(
            "call",
            self.name,
            t0 + context.clock_offset_ns,
            t1 - t0,
            outcome,
            None,
            HOSTNAME,
            context.pid,
            context.app_version,
            None,
            None,
            None,
            self.tags,
            fields,
            error_type,
            message,
            tb_text,
        )


def _describe_exception(error: BaseException) -> str:
    """``Type: message`` of an extra's exception, even one whose ``__str__`` raises."""
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:
        return f"{type(error).__name__}: <unprintable>"


def _default_name(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", None) or "?"
    qualname = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{qualname}"


def make_monitor(
    recorder: Recorder,
    function: Callable[P, R],
    *,
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    sample_rate: float = 1.0,
    limits: Limits = DEFAULT_LIMITS,
) -> Callable[P, R]:
    """Wrap ``function`` so that every call is captured into ``recorder``.

    Staticmethod and classmethod objects are unwrapped and re-wrapped so the decorator works
    above or below them. Coroutine functions are timed until awaited to completion; generator
    and async generator functions until exhausted or closed.
    """
    if isinstance(function, (staticmethod, classmethod)):
        inner = make_monitor(
            recorder,
            function.__func__,
            name=name,
            extra=extra,
            tags=tags,
            sample_rate=sample_rate,
            limits=limits,
        )
        return type(function)(inner)
    if not callable(function):
        raise TypeError(f"monitor: expected a function, got {type(function).__name__}")
    if not 0.0 <= sample_rate <= 1.0:
        raise ValueError(f"sample_rate: expected a number from 0 to 1; got {sample_rate!r}")
    spec = CallSpec(name or _default_name(function), extra=extra, tags=tags, limits=limits)
    recorder.mark_static(spec.tags)
    recorder.mark_static(spec.static_fields)
    if inspect.isasyncgenfunction(function):
        wrapper = _wrap_async_generator(recorder, spec, function, sample_rate)
    elif inspect.iscoroutinefunction(function):
        wrapper = _wrap_coroutine(recorder, spec, function, sample_rate)
    elif inspect.isgeneratorfunction(function):
        wrapper = _wrap_generator(recorder, spec, function, sample_rate)
    elif spec.dynamic_extra or sample_rate < 1.0:
        wrapper = _wrap_sync(recorder, spec, function, sample_rate)
    else:
        wrapper = _wrap_sync_fast(recorder, spec, function)
    wrapped = functools.wraps(function)(wrapper)
    wrapped.__lookout_spec__ = spec  # type: ignore[attr-defined]
    return wrapped


def _wrap_sync_fast(
    recorder: Recorder, spec: CallSpec, function: Callable[..., Any]
) -> Callable[..., Any]:
    """The common case (no per-call extra, no sampling): nothing but the floor work."""
    ingress = recorder.ingress
    append = ingress.append
    count_drop = recorder.count_drop
    perf_ns = _perf_ns

    def monitored(*args: Any, **kwargs: Any) -> Any:
        t0 = perf_ns()
        try:
            result = function(*args, **kwargs)
        except BaseException as error:
            t1 = perf_ns()
            if len(ingress) < recorder.queue_size:
                append((spec, t0, t1, error, error.__traceback__, None))
            else:
                count_drop()
            raise
        t1 = perf_ns()
        if len(ingress) < recorder.queue_size:
            append((spec, t0, t1, None, None, None))
        else:
            count_drop()
        return result

    return monitored


def _capture(
    recorder: Recorder,
    spec: CallSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    t0: int,
    result: Any,
    error: BaseException | None,
    tb: TracebackType | None,
) -> None:
    """The general capture step, shared by every wrapper but the fast one."""
    t1 = _perf_ns()
    try:
        fields = None
        if spec.dynamic_extra:
            info = CallInfo(spec.name, args, kwargs, result, error, (t1 - t0) / 1e9)
            fields = spec.evaluate_extra(info)
        recorder.submit((spec, t0, t1, error, tb, fields))
    except Exception:
        with swallow_internal_errors("capturing a monitored call"):
            raise


def _sampled_out(sample_rate: float) -> bool:
    return sample_rate < 1.0 and random.random() >= sample_rate


def _wrap_sync(
    recorder: Recorder, spec: CallSpec, function: Callable[..., Any], sample_rate: float
) -> Callable[..., Any]:
    def monitored(*args: Any, **kwargs: Any) -> Any:
        if _sampled_out(sample_rate):
            return function(*args, **kwargs)
        t0 = _perf_ns()
        try:
            result = function(*args, **kwargs)
        except BaseException as error:
            _capture(recorder, spec, args, kwargs, t0, None, error, error.__traceback__)
            raise
        _capture(recorder, spec, args, kwargs, t0, result, None, None)
        return result

    return monitored


def _wrap_coroutine(
    recorder: Recorder, spec: CallSpec, function: Callable[..., Any], sample_rate: float
) -> Callable[..., Any]:
    async def monitored(*args: Any, **kwargs: Any) -> Any:
        if _sampled_out(sample_rate):
            return await function(*args, **kwargs)
        t0 = _perf_ns()
        try:
            result = await function(*args, **kwargs)
        except BaseException as error:
            _capture(recorder, spec, args, kwargs, t0, None, error, error.__traceback__)
            raise
        _capture(recorder, spec, args, kwargs, t0, result, None, None)
        return result

    return monitored


def _wrap_generator(
    recorder: Recorder, spec: CallSpec, function: Callable[..., Any], sample_rate: float
) -> Callable[..., Any]:
    def monitored(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        if _sampled_out(sample_rate):
            return (yield from function(*args, **kwargs))
        t0 = _perf_ns()
        try:
            result = yield from function(*args, **kwargs)
        except GeneratorExit:  # closed early by the consumer: a normal end
            _capture(recorder, spec, args, kwargs, t0, None, None, None)
            raise
        except BaseException as error:
            _capture(recorder, spec, args, kwargs, t0, None, error, error.__traceback__)
            raise
        _capture(recorder, spec, args, kwargs, t0, result, None, None)
        return result

    return monitored


def _wrap_async_generator(
    recorder: Recorder, spec: CallSpec, function: Callable[..., Any], sample_rate: float
) -> Callable[..., Any]:
    async def monitored(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        generator = function(*args, **kwargs)
        record = not _sampled_out(sample_rate)
        t0 = _perf_ns()
        error: BaseException | None = None
        tb: TracebackType | None = None
        try:
            value = await generator.__anext__()
            while True:  # forward asend/athrow/aclose, as ``yield from`` would
                try:
                    sent = yield value
                except GeneratorExit:
                    await generator.aclose()
                    raise
                except BaseException as thrown:
                    value = await generator.athrow(thrown)
                else:
                    value = await generator.asend(sent)
        except StopAsyncIteration:
            pass
        except GeneratorExit:  # closed early by the consumer: a normal end
            raise
        except BaseException as raised:
            error, tb = raised, raised.__traceback__
            raise
        finally:
            if record:
                _capture(recorder, spec, args, kwargs, t0, None, error, tb)

    return monitored
