"""Monitoring a library module's functions with the module-level decorator: no instance to
pass around, configured once by the application (or by ``LOOKOUT_*`` variables).

Run it::

    pip install lookout
    python examples/monitored_library.py
    lookout stats --since 10m
"""

from __future__ import annotations

import asyncio
import time

import lookout


@lookout.monitor
def parse(text: str) -> list[str]:
    """Recorded as ``__main__.parse``: calls, errors and latency."""
    return text.split()


@lookout.monitor(name="pricing.quote", extra={"items": lambda call: len(call.args[0])})
def quote(items: list[str]) -> int:
    """The per-call ``extra`` callable records how many items each quote had."""
    if not items:
        raise ValueError("nothing to quote")
    time.sleep(0.002)
    return 100 * len(items)


@lookout.monitor
async def fetch(key: str) -> str:
    """``async def`` functions are timed until they are awaited to the end."""
    await asyncio.sleep(0.001)
    return key.upper()


def main() -> None:
    # The application decides where data goes; a library never needs to.
    lookout.configure(app_version="2.3")
    for line in ("kettle teapot", "mug", ""):
        words = parse(line)
        try:
            print(line or "(empty)", "->", quote(words))
        except ValueError as error:
            print(line or "(empty)", "->", error)
    print(asyncio.run(fetch("done")))
    lookout.get_default().flush(10)


if __name__ == "__main__":
    main()
