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

_SIZES = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
          "t": 1 << 40, "tb": 1 << 40}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_size(text: str) -> int:
    """``100MB``, ``512k``, ``1MiB``, ``1g``, ``4096`` -> bytes (binary multiples, as Docker's ``max-size``).

    Raises:
        ValueError: not a non-negative size.
    """
    s = text.strip().lower().replace("i", "")
    digits = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(digits):]
    try:
        value = float(digits)
    except ValueError:
        value = -1.0
    if unit not in _SIZES or not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a size (e.g. 100MB, 512k, 65536)")
    return int(value * _SIZES[unit])


def parse_bool(text: str, empty: bool | None = None) -> bool:
    """``1/true/yes/on`` and ``0/false/no/off`` in any case; ``empty`` is what "" means (None: an error).

    Raises:
        ValueError: not a boolean.
    """
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value == "" and empty is not None:
        return empty
    raise ValueError(f"{text!r} is not a boolean (true/false)")


def format_bytes(value: float | None, missing: str = "-") -> str:
    """``512B``, ``1.5KiB``, ``12MiB``, ``3.2GiB``; ``missing`` when unknown."""
    if value is None:
        return missing
    v = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(v) < 1024:
            if unit == "B":
                return f"{int(v)}B"
            return f"{v:.1f}{unit}" if abs(v) < 10 else f"{v:.0f}{unit}"
        v /= 1024
    return f"{v:.1f}TiB" if abs(v) < 10 else f"{v:.0f}TiB"


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
