"""Units of human input and output: durations (``500ms``, ``2m30s``), sizes (``100MB``), booleans, human forms."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Return the number of seconds ``text`` stands for.

    Raises:
        ValueError: the text is not a non-negative duration.
    """
    s = text.strip().lower()
    if not s:
        raise ValueError("empty duration")
    try:
        value = float(s)
    except ValueError:
        pos, total = 0, 0.0
        for match in _PART.finditer(s):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(s) or pos == 0:
            raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 1s, 2m30s)") from None
        return total
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"not a duration: {text!r}")
    return value

def format_duration(seconds: float | None, missing: str = "") -> str:
    """``3d4h``, ``2h5m``, ``4m10s``, ``12s``; ``missing`` when there is no value (not running)."""
    if seconds is None:
        return missing
    s = int(seconds)
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
