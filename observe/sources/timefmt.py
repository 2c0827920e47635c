"""Docker's RFC 3339 nanosecond timestamps as integer nanoseconds, fast.

``datetime.fromisoformat`` truncates to microseconds, and ordering, deduplication and
resuming all need Docker's nanoseconds; lines arrive thousands per second within the same
second, so the seconds part is cached.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=4096)
def _epoch_seconds(prefix: str) -> int:
    return calendar.timegm(
        (int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10]), int(prefix[11:13]), int(prefix[14:16]),
         int(prefix[17:19]), 0, 0, 0)
    )


def parse_ns(text: str) -> int:
    """``2026-01-02T03:04:05.123456789Z`` (0-9 fraction digits, ``Z`` or ``±hh:mm``) -> ns since the epoch.

    Raises:
        ValueError: not an RFC 3339 timestamp.
    """
    if len(text) < 20 or text[4] != "-" or text[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    try:
        secs = _epoch_seconds(text[:19])
    except (ValueError, IndexError):
        raise ValueError(f"not an RFC 3339 time: {text!r}") from None
    rest = text[19:]
    frac = 0
    if rest.startswith("."):
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        digits = rest[1:i]
        if not digits:
            raise ValueError(f"not an RFC 3339 time: {text!r}")
        frac = int(digits[:9].ljust(9, "0"))
        rest = rest[i:]
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        try:
            offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
        except ValueError:
            raise ValueError(f"not an RFC 3339 time: {text!r}") from None
    else:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    return (secs - offset) * 1_000_000_000 + frac


def format_ns(time_ns: int) -> str:
    """ns since the epoch -> ``2026-01-02T03:04:05.123456789Z`` (always 9 digits)."""
    secs, ns = divmod(time_ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def since_param(time_ns: int) -> str:
    """The engine's ``since``/``until`` form with full precision: ``seconds.nanoseconds``."""
    secs, ns = divmod(time_ns, 1_000_000_000)
    return f"{secs}.{ns:09d}"
