"""Every RFC 3339 parse and format of observe: Docker's nanosecond times, applications' times, records' ``@timestamp``.

Docker's times as integer nanoseconds, fast.

``datetime.fromisoformat`` truncates to microseconds, and ordering, deduplication and
resuming all need Docker's nanoseconds; lines arrive thousands per second within the same
second, so the seconds part is cached.
"""

from __future__ import annotations

import calendar
import re
import time
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


_second_cache: tuple[int, str] = (-1, "")


def _second(sec: int) -> str:
    """``2026-01-02T03:04:05`` for a second since the epoch; the last one is cached (lines come many per second)."""
    global _second_cache
    cached, prefix = _second_cache
    if cached != sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _second_cache = (sec, prefix)
    return prefix


def format_ns(time_ns: int) -> str:
    """ns since the epoch -> ``2026-01-02T03:04:05.123456789Z`` (always 9 digits: Docker's form)."""
    secs, ns = divmod(time_ns, 1_000_000_000)
    return _second(secs) + "." + str(1_000_000_000 + ns)[1:] + "Z"  # a format spec costs twice this


def format_seconds(seconds: float) -> str:
    """Seconds since the epoch -> ``2026-01-02T03:04:05.123456Z`` (microseconds, left out when zero)."""
    return format_datetime(datetime.fromtimestamp(seconds, UTC))


def format_datetime(when: datetime) -> str:
    """An aware datetime in UTC as RFC 3339 with ``Z`` (microseconds, left out when zero)."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(text: str | None) -> datetime | None:
    """Docker's RFC 3339 nanosecond time as an aware UTC datetime (microseconds kept).

    Returns None for Docker's zero time (``0001-01-01T00:00:00Z``) and for anything unparseable.
    """
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        ns = parse_ns(text.strip())
    except ValueError:
        return None
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).replace(microsecond=frac // 1000)


def since_param(time_ns: int) -> str:
    """The engine's ``since``/``until`` form with full precision: ``seconds.nanoseconds``."""
    secs, ns = divmod(time_ns, 1_000_000_000)
    return f"{secs}.{ns:09d}"


_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:[.,](\d{1,9})\d*)?(?:([Zz])|([+-])(\d\d):?(\d\d))\Z"
)
# Application times outside 1990..2200 are taken for something else (a counter, a duration).
_TIME_MIN_NS = 631_152_000 * 10**9
_TIME_MAX_NS = 7_258_118_400 * 10**9
_MAX_TS_NS = 253_402_300_799_999_999_999  # 9999-12-31T23:59:59.999999999Z
def format_time_ns(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with microseconds: ``2026-01-02T03:04:05.123456Z``.

    The records' ``@timestamp``: out-of-range times are clamped to year 1970..9999.
    """
    if ns < 0:
        ns = 0
    elif ns > _MAX_TS_NS:
        ns = _MAX_TS_NS
    sec, frac = divmod(ns, 1_000_000_000)
    return _second(sec) + "." + str(1_000_000 + frac // 1000)[1:] + "Z"  # a format spec costs twice this


_day_cache: dict[str, int] = {}


def parse_time(value: object) -> int | None:
    """An application's time field as nanoseconds since the epoch; None when not sanely a time.

    Accepts RFC 3339 strings with a zone (``Z`` or an offset; ``,`` or ``.`` before the
    fraction, a space or ``T`` between date and time) and epoch numbers in seconds,
    milliseconds, microseconds or nanoseconds (told apart by size). Times outside
    1990..2200 are refused, as are booleans.
    """
    if type(value) is float:
        if not 0 < value < 1e20:  # also refuses NaN
            return None
        if value < 1e11:
            ns = round(value * 1_000_000) * 1000
        elif value < 1e14:
            ns = round(value * 1000) * 1000
        else:
            ns = int(value) if value >= 1e17 else int(value) * 1000
    elif isinstance(value, str):
        if len(value) > 40:
            return None
        m = _RFC3339.match(value)
        if m is None:
            return None
        day, clock, frac, zulu, sign, off_h, off_m = m.groups()
        key = f"{day}T{clock}"
        secs = _day_cache.get(key)
        if secs is None:
            try:
                secs = calendar.timegm(datetime.fromisoformat(key).timetuple())
            except ValueError:
                return None
            if len(_day_cache) > 4096:
                _day_cache.clear()
            _day_cache[key] = secs
        if not zulu:
            offset = int(off_h) * 3600 + int(off_m) * 60
            secs = secs - offset if sign == "+" else secs + offset
        ns = secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < 10**20:
            return None
        if value < 10**11:
            ns = value * 1_000_000_000
        elif value < 10**14:
            ns = value * 1_000_000
        elif value < 10**17:
            ns = value * 1000
        else:
            ns = value
    else:
        return None
    if _TIME_MIN_NS <= ns < _TIME_MAX_NS:
        return ns
    return None
