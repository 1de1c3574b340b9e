from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import AsyncIterator, Iterator

import pytest

import lookout
from lookout.testing import InMemorySink, capture_events


def test_plain_function_is_recorded_and_untouched() -> None:
    with capture_events(app_version="2.1") as events:

        @events.lookout.monitor
        def add(a: int, b: int = 2) -> int:
            """Adds."""
            return a + b

        assert add(1) == 3
        assert add.__name__ == "add"
        assert add.__doc__ == "Adds."
        assert str(inspect.signature(add)) == "(a: 'int', b: 'int' = 2) -> 'int'"
    [event] = events
    assert event.kind == "call"
    assert event.name == f"{__name__}.test_plain_function_is_recorded_and_untouched.<locals>.add"
    assert event.outcome == "ok"
    assert event.duration_ns > 0
    assert event.app_version == "2.1"
    assert event.pid > 0 and event.host


def test_exception_is_recorded_and_reraised_with_original_traceback() -> None:
    with capture_events() as events:

        @events.lookout.monitor(name="payments.charge")
        def charge(amount: int) -> None:
            raise ValueError(f"declined {amount}")

        with pytest.raises(ValueError, match="declined 5") as caught:
            charge(5)
        frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
        assert frames[-1] == "charge"  # the raising frame is still the innermost one
    [event] = events
    assert event.outcome == "error"
    assert event.error_type == "ValueError"
    assert event.error_message == "declined 5"
    assert (
        event.traceback is not None and 'raise ValueError(f"declined {amount}")' in event.traceback
    )


def test_methods_staticmethods_and_classmethods() -> None:
    with capture_events() as events:
        monitor = events.lookout.monitor

        class Cart:
            factor = 3

            @monitor
            def total(self, n: int) -> int:
                return n * 2

            @monitor
            @staticmethod
            def tax(n: int) -> int:
                return n + 1

            @staticmethod
            @monitor
            def discount(n: int) -> int:
                return n - 1

            @monitor
            @classmethod
            def scaled(cls, n: int) -> int:
                return n * cls.factor

        cart = Cart()
        assert (cart.total(2), Cart.tax(2), Cart.discount(2), Cart.scaled(2)) == (4, 3, 1, 6)
    names = [event.name.rsplit(".", 2)[-2:] for event in events]
    assert names == [["Cart", "total"], ["Cart", "tax"], ["Cart", "discount"], ["Cart", "scaled"]]


def test_async_function_records_awaited_time() -> None:
    with capture_events() as events:

        @events.lookout.monitor
        async def fetch() -> str:
            await asyncio.sleep(0.05)
            return "done"

        assert inspect.iscoroutinefunction(fetch)
        assert asyncio.run(fetch()) == "done"
    assert events[0].duration_ns >= 45_000_000


def test_generator_timed_until_exhausted_or_closed() -> None:
    with capture_events() as events:
        monitor = events.lookout.monitor

        @monitor(name="gen")
        def numbers(n: int) -> Iterator[int]:
            yield from range(n)
            return None

        @monitor(name="failing-gen")
        def failing() -> Iterator[int]:
            yield 1
            raise KeyError("missing")

        assert inspect.isgeneratorfunction(numbers)
        assert list(numbers(3)) == [0, 1, 2]
        early = numbers(100)
        next(early)
        early.close()
        with pytest.raises(KeyError):
            list(failing())
        sent = numbers(2)
        assert next(sent) == 0 and sent.send(None) == 1
    assert [(e.name, e.outcome) for e in events] == [
        ("gen", "ok"),
        ("gen", "ok"),
        ("failing-gen", "error"),
    ]


def test_async_generator_forwards_and_records() -> None:
    with capture_events() as events:
        monitor = events.lookout.monitor

        @monitor(name="agen")
        async def ticks(n: int) -> AsyncIterator[int]:
            for i in range(n):
                await asyncio.sleep(0.001)
                yield i

        @monitor(name="agen-error")
        async def broken() -> AsyncIterator[int]:
            yield 1
            raise RuntimeError("stream broke")

        async def consume() -> None:
            assert [i async for i in ticks(3)] == [0, 1, 2]
            stream = ticks(10)
            assert await stream.__anext__() == 0
            await stream.aclose()
            with pytest.raises(RuntimeError, match="stream broke"):
                [i async for i in broken()]

        assert inspect.isasyncgenfunction(ticks)
        asyncio.run(consume())
    assert [(e.name, e.outcome) for e in events] == [
        ("agen", "ok"),
        ("agen", "ok"),
        ("agen-error", "error"),
    ]
    assert events[2].error_message == "stream broke"


def test_extra_static_and_per_call_values_tags_and_redaction() -> None:
    seen: list[lookout.CallInfo] = []

    def remember(call: lookout.CallInfo) -> int:
        seen.append(call)
        return len(call.args)

    with capture_events() as events:

        @events.lookout.monitor(
            extra={
                "team": "billing",
                "nargs": remember,
                "bad": lambda call: 1 / 0,
                "api_key": "k-123",
                "result": lambda call: call.result,
            },
            tags={"tier": "gold"},
        )
        def work(a: int, b: int) -> dict[str, int]:
            return {"sum": a + b}

        work(1, b=2)
    [event] = events
    assert event.fields["team"] == "billing"
    assert event.fields["nargs"] == 1
    assert event.fields["bad"] is None
    assert event.fields["bad.error"] == "ZeroDivisionError: division by zero"
    assert event.fields["api_key"] == "k-123"  # a key you named is recorded as given
    assert event.fields["result"] == {"sum": 3}
    assert event.tags == {"tier": "gold"}
    assert seen[0].kwargs == {"b": 2} and seen[0].error is None and seen[0].duration_s > 0


def test_sampling_records_a_fraction() -> None:
    with capture_events() as events:

        @events.lookout.monitor(sample_rate=0.25)
        def tick() -> None:
            pass

        @events.lookout.monitor(sample_rate=0.0)
        def never() -> None:
            pass

        for _ in range(4000):
            tick()
            never()
    assert 800 < len(events) < 1200
    assert all(event.name.endswith("tick") for event in events)


def test_disabled_returns_the_function_itself() -> None:
    with capture_events(enabled=False) as events:

        def plain() -> int:
            return 1

        assert events.lookout.monitor(plain) is plain


def test_decorating_something_not_callable_is_a_clear_error() -> None:
    with capture_events() as events, pytest.raises(TypeError, match="expected a function"):
        events.lookout.monitor(42)  # type: ignore[call-overload]
    with capture_events() as events, pytest.raises(ValueError, match="sample_rate"):
        events.lookout.monitor(sample_rate=3)(lambda: None)


def test_module_level_monitor_follows_a_later_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lookout, "_default", None)

    @lookout.monitor(name="early")
    def early() -> str:
        return "ok"

    sink = InMemorySink()
    instance = lookout.configure(store=None, sinks=[sink], app_version="7", batch_interval=0.01)
    try:
        assert early() == "ok"
        assert instance.flush(5)
        assert [(e.name, e.app_version) for e in sink.events] == [("early", "7")]
        assert lookout.get_default() is instance
    finally:
        instance.close()


def test_wrapper_keeps_wrapped_reference_for_introspection() -> None:
    with capture_events() as events:

        def original(x: int) -> int:
            return x

        wrapped = events.lookout.monitor(original)
        assert wrapped.__wrapped__ is original  # type: ignore[attr-defined]
        assert inspect.unwrap(wrapped) is original
