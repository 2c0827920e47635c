"""The text of one line: cleaned (carriage returns, ANSI escapes, the size cap) and JSON read leniently. Pure."""

from __future__ import annotations

import json
import math
import re
from typing import Any

# An escape sequence ends at its terminator or at the end of the line (a newline inside a JSON
# message), never later: CSI; OSC, DCS, SOS, PM and APC strings (ended by BEL or ST); the
# two-byte and nF forms (``ESC 7``, ``ESC ( B``); a lone ESC at the end.
ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*(?:[@-~]|(?=\n)|\Z)|[\]PX^_][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[ -/]*[0-~]|(?=\n)|\Z)"
)
INT64 = (-(2**63), 2**64)


def clean_text(text: str, strip_ansi: bool, cap: int) -> tuple[str, bool]:
    """A line's text with trailing CRs and (optionally) ANSI escapes removed, cut to the cap.

    Returns:
        The text and whether it was truncated.
    """
    if text and text[-1] == "\r":
        text = text.rstrip("\r")
    if strip_ansi and "\x1b" in text:
        text = ANSI.sub("", text)
    if len(text) * 4 > cap and not (text.isascii() and len(text) <= cap):
        raw = text.encode("utf-8", "replace")
        if len(raw) > cap:
            return raw[:cap].decode("utf-8", "ignore"), True
    return text, False


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def _exact_int(text: str) -> int | str:
    if len(text) < 19:
        return int(text)
    value = int(text) if len(text) <= 40 else None
    if value is not None and INT64[0] <= value < INT64[1]:
        return value
    return text


def _finite_float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def lenient_loads(body: str) -> Any:
    """JSON as loggers write it that orjson refuses; None when it is not JSON even so."""
    try:
        return json.loads(body, parse_constant=str, parse_int=_exact_int, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return None
