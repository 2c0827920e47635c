"""Log levels: the words and numbers common loggers use for them, and where plain text states one. Pure."""

from __future__ import annotations

import re

from observe.model import LEVELS

__all__ = ["LEVELS", "LEVEL_WORDS", "begins_record", "canonical_level", "detect_level"]

_SYNONYMS = {
    "trace": "trace", "trc": "trace", "finest": "trace", "finer": "trace",
    "trce": "trace", "verbose": "trace", "vrb": "trace",
    "debug": "debug", "dbg": "debug", "dbug": "debug", "fine": "debug",
    "info": "info", "inf": "info", "information": "info", "informational": "info",
    "notice": "notice", "note": "notice",
    "warn": "warn", "warning": "warn", "wrn": "warn",
    "error": "error", "err": "error", "eror": "error", "severe": "error", "fail": "error",
    "critical": "critical", "crit": "critical", "crt": "critical", "alert": "critical",
    "fatal": "fatal", "ftl": "fatal", "panic": "fatal", "pnc": "fatal", "emerg": "fatal", "emergency": "fatal",
}
# pino/bunyan numeric levels, and syslog severities 0..7 (GELF).
_PINO = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
_SYSLOG = ("fatal", "critical", "critical", "error", "warn", "notice", "info", "debug")
_KLOG = {"I": "info", "W": "warn", "E": "error", "F": "fatal"}
# Monolog's numeric levels (its JSON lines carry them as "level").
_MONOLOG = {100: "debug", 200: "info", 250: "notice", 300: "warn", 400: "error", 500: "critical", 550: "critical",
            600: "fatal"}
# One-letter levels in a JSON level field (glog/klog letters, Android, zerolog's short forms).
_LETTERS = {"T": "trace", "V": "trace", "D": "debug", "I": "info", "N": "notice", "W": "warn", "E": "error",
            "C": "critical", "A": "critical", "F": "fatal", "P": "fatal"}
# Redis: "1:M 25 Nov 2026 02:18:48.123 # Warning ..." ('.' debug, '-' verbose, '*' notice, '#' warning).
_REDIS = {".": "debug", "-": "trace", "*": "notice", "#": "warn"}
# Plain-text tokens taken as a level only in capitals (or decorated: "[info]", "error:").
_UPPER = {name.upper(): level for name, level in _SYNONYMS.items()
          if name not in ("information", "informational", "verbose", "fine")}

_LOGFMT_VALUE = re.compile(r"\"?([A-Za-z]+)")
_KLOG_RE = re.compile(r"[IWEF]\d{4}(?:\d{4})? \d\d:\d\d:\d\d")  # klog/glog; glog >= 0.7 adds the year
_REDIS_RE = re.compile(r"\d+:[XCSM] \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d+ ([.*#-]) ")
_SYSLOG_RE = re.compile(r"<(\d{1,3})>")
_TOKEN_STRIP = "[]()<>{}|:,;*"


def _level_tokens() -> dict[str, str]:
    """Words taken for a level as they stand: capitals bare, any case when decorated."""
    out = dict(_UPPER)
    for name, level in _SYNONYMS.items():
        for form in {name, name.upper(), name.capitalize()}:
            for deco in ("[{}]", "<{}>", "({})", "{{{}}}", "|{}|", "{}:", "[{}]:", "[{}],"):
                out[deco.format(form)] = level
    return out


_TOKENS = _level_tokens()
LEVEL_WORDS = {form: level for name, level in _SYNONYMS.items() for form in (name, name.upper(), name.capitalize())}

def canonical_level(value: object) -> str | None:
    """A level name or number as one of ``LEVELS``; None when it is not recognisably a level.

    Names of any case and padding (``"Warning"``, ``" info "``), with Go slog's offsets
    (``"WARN+2"``, ``"DEBUG-4"``), one letter (``"W"``, ``"E"``: glog/klog, Android); numbers
    of pino/bunyan (10..60), Monolog (100..600) and syslog severities (0..7).
    """
    if isinstance(value, str):
        if len(value) > 16:
            return None
        word = value.strip()
        level = _SYNONYMS.get(word.lower())
        if level is not None:
            return level
        if len(word) == 1:
            return _LETTERS.get(word.upper())
        if word[-1:].isdigit():  # slog "WARN+2"
            return _SYNONYMS.get(word.rstrip("0123456789").rstrip("+-").lower())
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value in _PINO:
            return _PINO[value]
        if 0 <= value <= 7:
            return _SYSLOG[value]
        return _MONOLOG.get(value)
    return None


def detect_level(text: str) -> str | None:
    """The level a plain-text line states, looking only where loggers put it.

    Recognised: logfmt ``level=debug``; klog/glog ``E1125 10:00:00.123`` (and glog's
    ``E20261125 ...``); syslog ``<3>``; Redis ``1:M 25 Nov 2026 ... # ...``; a tab-separated
    field that is a level word in any case (zap's console encoder: ``<time>\twarn\t...``);
    and among the first five words a capitalised level (``ERROR``, ``WARN``, ``INFO`` in
    ``2026-.. INFO [main] ..``, ``ERROR:root:..``) or a decorated one in any case
    (``[error]``, ``[Info]``, ``warning:``, ``fail:``). Returns None when nothing is found.
    """
    if not text:
        return None
    head = text[:200]
    if "vel=" in head or "lvl=" in head or "rity=" in head:
        level = _logfmt_level(head)
        if level is not None:
            return level
    first = head[0]
    if first in "IWEF" and _KLOG_RE.match(head):
        return _KLOG[first]
    if first == "<":
        m = _SYSLOG_RE.match(head)
        if m is not None and int(m.group(1)) <= 191:
            return _SYSLOG[int(m.group(1)) % 8]
    elif first.isdigit() and ":" in head[:8]:
        m = _REDIS_RE.match(head)
        if m is not None:
            return _REDIS[m.group(1)]
    if "\t" in head:
        for part in head.split("\t", 3)[:3]:
            if 3 <= len(part) <= 8:
                level = _SYNONYMS.get(part.lower())
                if level is not None:
                    return level
    words = head[:120].split(None, 5)
    if not words:
        return None
    tokens = _TOKENS
    word = words[0]
    if ":" in word:  # Python logging's "ERROR:root:message"
        level = tokens.get(word[: word.index(":")])
        if level is not None:
            return level
    for word in words[:5]:
        level = tokens.get(word)
        if level is not None:
            return level
        if word[0] in "[<(" and len(word) <= 14:  # "[INFO ]", "[warn]," and other decorations
            level = _SYNONYMS.get(word.strip(_TOKEN_STRIP).lower())
            if level is not None:
                return level
    return None


_TIME_START = re.compile(r"\[?(?:\d{4}[-/.]\d\d[-/.]\d\d|\d\d:\d\d:\d\d|\d{10}|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d)")
_LOGFMT_START = ("time=", "ts=", "level=", "lvl=", "msg=", "t=", "timestamp=")


def begins_record(text: str) -> bool:
    """Whether a line opens a log record of its own: a timestamp or level header.

    What ends a stack trace cut short: a line starting with a date or time (``2026-11-25``,
    ``[2026/11/25 ...``, ``10:00:00``, ``Nov 25 02:18:48``, epoch seconds), a klog/glog or
    syslog header, logfmt (``time=``, ``level=``), or a first word that is a level in
    capitals (``ERROR``, ``WARN:``, ``[INFO]``, ``ERROR:root:``) or bracketed in any case
    (``[info]``). An exception line (``KeyError: 'id'``, ``Warning: x``) is none of these.
    """
    if not text:
        return False
    first = text[0]
    if first.isdigit() or first == "[" or first.isupper():
        if _TIME_START.match(text):
            return True
        if first in "IWEF" and _KLOG_RE.match(text):
            return True
    elif first == "<":
        return _SYSLOG_RE.match(text) is not None
    if text.startswith(_LOGFMT_START):
        return True
    word = text[:40].split(None, 1)[0] if not first.isspace() else ""
    if not word:
        return False
    if ":" in word:
        word = word[: word.index(":") + 1]
    bare = word.strip(_TOKEN_STRIP)
    if word[0] in "[<(":
        return bare.lower() in _SYNONYMS
    return bare.isupper() and bare in _UPPER


def _logfmt_level(head: str) -> str | None:
    for key in ("level=", "lvl=", "severity="):
        i = head.find(key)
        if i >= 0 and (i == 0 or head[i - 1] in ' \t"' or head[i - 3 : i] == "log"):
            m = _LOGFMT_VALUE.match(head, i + len(key))
            if m is not None:
                return _SYNONYMS.get(m.group(1).lower())
    return None
