"""Waiting inside a running app: the async twin of tests/waiting.py (the app's loop must keep running)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from textual.pilot import Pilot

from tests.support.waiting import TIMEOUT

T = TypeVar("T")


async def until(pilot: Pilot[object], condition: Callable[[], T], what: str, timeout: float = TIMEOUT) -> T:
    """Return the first truthy ``condition()``, letting the app run between tries; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {what}")
        await pilot.pause(0.05)
