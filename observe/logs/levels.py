"""Log levels: the words and numbers common loggers use for them, and where plain text states one. Pure."""

from __future__ import annotations

import re

from observe.model import LEVELS

__all__ = ["LEVELS", "LEVEL_WORDS", "canonical_level", "detect_level"]

_SYNONYMS = {
    "trace": "trace", "trc": "trace", "finest": "trace", "finer": "trace",
    "debug": "debug", "dbg": "debug", "dbug": "debug", "fine": "debug", "verbose": "debug",
    "info": "info", "inf": "info", "information": "info", "informational": "info",
    "notice": "notice",
    "warn": "warn", "warning": "warn", "wrn": "warn",
    "error": "error", "err": "error", "eror": "error", "severe": "error",
    "critical": "critical", "crit": "critical", "crt": "critical", "alert": "critical",
    "fatal": "fatal", "ftl": "fatal", "panic": "fatal", "pnc": "fatal", "emerg": "fatal", "emergency": "fatal",
}
# pino/bunyan numeric levels, and syslog severities 0..7 (GELF).
_PINO = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
_SYSLOG = ("fatal", "critical", "critical", "error", "warn", "notice", "info", "debug")
_KLOG = {"I": "info", "W": "warn", "E": "error", "F": "fatal"}
# Plain-text tokens taken as a level only in capitals (or decorated: "[info]", "error:").
_UPPER = {name.upper(): level for name, level in _SYNONYMS.items()
          if name not in ("information", "informational", "verbose", "fine")}

_LOGFMT_VALUE = re.compile(r"\"?([A-Za-z]+)")
_KLOG_RE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d")
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
    """A level name or number as one of ``LEVELS``; None when it is not recognisably a level."""
    if isinstance(value, str):
        if len(value) > 16:
            return None
        return _SYNONYMS.get(value.strip().lower())
    if isinstance(value, int) and not isinstance(value, bool):
        if value in _PINO:
            return _PINO[value]
        if 0 <= value <= 7:
            return _SYSLOG[value]
    return None


def detect_level(text: str) -> str | None:
    """The level a plain-text line states, looking only where loggers put it.

    Recognised: logfmt ``level=debug``; klog/glog ``E1125 10:00:00.123``; syslog ``<3>``;
    and among the first five words a capitalised level (``ERROR``, ``WARN``, ``INFO`` in
    ``2026-.. INFO [main] ..``, ``ERROR:root:..``) or a decorated one in any case
    (``[error]``, ``[Info]``, ``warning:``). Returns None when nothing is found.
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


def _logfmt_level(head: str) -> str | None:
    for key in ("level=", "lvl=", "severity="):
        i = head.find(key)
        if i >= 0 and (i == 0 or head[i - 1] in ' \t"' or head[i - 3 : i] == "log"):
            m = _LOGFMT_VALUE.match(head, i + len(key))
            if m is not None:
                return _SYNONYMS.get(m.group(1).lower())
    return None
