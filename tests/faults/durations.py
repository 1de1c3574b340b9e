"""How long the outage tests last: the lengths the reliability issue asks for (a database
stopped for 60 s, a sink dead for 2 minutes) when ``LOOKOUT_TEST_FULL_LENGTH=1``, which CI's last
pass sets; shorter elsewhere, so a laptop run stays quick while spooling the same way."""

from __future__ import annotations

import os

FULL = os.environ.get("LOOKOUT_TEST_FULL_LENGTH") == "1"


def seconds(short: float, full: float) -> float:
    return full if FULL else short
