"""Waiting on conditions, never on sleeps: one timeout and a message saying what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
TIMEOUT = 15.0


def wait_for(condition: Callable[[], T], what: str, timeout: float = TIMEOUT, interval: float = 0.05) -> T:
    """Return the first truthy value of ``condition()``; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {what}")
        time.sleep(interval)
        last = condition()
    return last
