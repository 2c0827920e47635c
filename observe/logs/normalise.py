"""Normalisation: a container's raw log lines in, logstash/ECS records out. Pure.

No I/O, no clock (``now`` is passed in), no Docker: everything here is tested with plain
values. Per container, a ``LogPipeline`` (``observe.logs.pipeline``) joins Docker's partial chunks, merges multi-line
records (``observe.logs.multiline``) and turns each result into a flat document (dotted ECS keys,
rendered by ``observe.logs.formats``).

The document of a record:

- ``@timestamp``: the application's own time when its JSON line carries a parseable one,
  else Docker's; RFC 3339 UTC with microseconds. ``observe.time_ns`` always holds Docker's
  time in nanoseconds.
- ``@version`` "1", ``message``, ``log.level`` (one of ``LEVELS``), ``stream``,
  ``container.id``, ``container.name``, ``container.image.name``, ``container.image.tag``,
  ``container.labels`` (allowlisted keys only, left out when none), ``service.name``,
  ``host.name`` (left out when empty).
- ``error.stack_trace`` on a multi-line record: the whole merged text, so the record alone
  reproduces the output. ``message`` is the first line, except for a Python traceback,
  where it is the exception line that ends it (a traceback cut short keeps its first line).
- ``log.truncated: true`` when the line was cut at ``max_line_bytes``;
  ``log.invalid_utf8: true`` when the reader replaced invalid bytes or the text holds U+FFFD.

An application line that is a JSON object (also after a BOM, with surrounding spaces or
tabs) gives its message (``msg``, ``message``, ``log``, structlog's ``event``, Serilog's
``@m`` then ``@mt``: the first holding a string), level (``level``, ``severity``, ``lvl``,
``levelname``, ``log.level``, Serilog's ``@l``, Monolog's ``level_name``, ``loglevel``,
``log_level`` or ``{"log": {"level": ..}}``; a Serilog line without ``@l`` is info) and time
(``time``, ``ts``, ``timestamp``, ``@timestamp``, ``@t``: the first that parses). A field is
consumed only when recognised; an unknown level or unparseable time stays among the
application's fields. The remaining fields go to the top level (or under ``json_key``)
under the ownership rule of ``observe.logs.fields``: dotted keys expanded, names
Elasticsearch refuses renamed ``app_<name>``, our own names never retyped (``error`` as a
string becomes ``error.message``; other values of our names are kept as ``app_<name>``),
and an object too wide or too deep kept whole as the string ``observe.app_json``
(``observe.app_overflow: true``). Without a message field, the message is the whole line.

JSON is read as common loggers write it: what orjson refuses is read again by Python's json
module, accepting ``NaN``, ``Infinity``, ``-Infinity``, numbers beyond a double (``1e400``)
and integers beyond 64 bits. Those values are kept exactly as strings of their JSON text
(``"NaN"``, ``"1e400"``, ``"123456789012345678901234567890"``), because a JSON number
could not hold them in the output (orjson writes no such number and Elasticsearch maps none).

No line is dropped: an empty or whitespace-only line is a record whose message is that
line (``drop_blank`` leaves them out, counted as ``blank_dropped``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from observe.logs.fields import CLAIMED, OWNED_NAMES, BigNumber, Overflow, claim, free_name, tidy
from observe.logs.levels import LEVEL_WORDS, canonical_level, detect_level
from observe.logs.multiline import (
    GO,
    JAVA,
    PYTHON,
    json_body,
)
from observe.logs.text import ANSI, clean_text, lenient_loads
from observe.model import ContainerInfo, allowed_labels
from observe.timefmt import format_time_ns, parse_time

COUNTER_KINDS = ("truncated", "invalid_utf8", "partial_joined", "json_parsed", "json_failed", "json_lenient",
                 "fields_overflow", "blank_dropped")

_MESSAGE_KEYS = ("msg", "message", "log", "event", "@m", "@mt")
_LEVEL_KEYS = ("level", "severity", "lvl", "levelname", "log.level", "@l", "level_name", "loglevel", "log_level")
_TIME_KEYS = ("time", "ts", "timestamp", "@timestamp", "@t")

def _default_levels() -> dict[str, str]:
    return {"stdout": "info", "stderr": "error"}


@dataclass(frozen=True, slots=True)
class NormaliseOptions:
    """How raw lines become records.

    Attributes:
        host_name: ``host.name`` of every record (left out when empty).
        label_allowlist: container label keys copied into ``container.labels``.
        json_key: where an application's extra JSON fields go; "" puts them at the top level.
        default_level: level per stream when a line names none.
        strip_ansi: remove ANSI escape sequences (colours, cursor moves) from the text.
        max_line_bytes: longer lines are cut (on a UTF-8 boundary) and flagged ``log.truncated``.
        multiline: merge stack traces and indented continuation lines into one record.
        flush_timeout: seconds a held record waits for more lines before it goes out.
        drop_blank: leave out the records of empty and whitespace-only lines (counted).
    """

    host_name: str = ""
    label_allowlist: tuple[str, ...] = ()
    json_key: str = ""
    default_level: Mapping[str, str] = field(default_factory=_default_levels)
    strip_ansi: bool = True
    max_line_bytes: int = 1024 * 1024
    multiline: bool = True
    flush_timeout: float = 1.0
    drop_blank: bool = False


def _json_key(key: str) -> str:
    """``json_key`` itself under the ownership rule: a name of ours or one Elasticsearch refuses is ``app_<key>``."""
    if not key:
        return ""
    if key in OWNED_NAMES or key.startswith("_") or "." in key or not key.strip():
        return free_name(key, {})
    return key


class Builder:
    """Builds documents for one container: the per-container fields computed once."""

    __slots__ = ("base", "counters", "default_level", "json_key", "options", "template")

    def __init__(self, container: ContainerInfo, options: NormaliseOptions, counters: dict[str, int]) -> None:
        self.options = options
        self.counters = counters
        self.default_level = dict(options.default_level)
        self.json_key = _json_key(options.json_key)
        base: dict[str, Any] = {
            "container.id": container.id,
            "container.name": container.name,
            "container.image.name": container.image_name,
            "container.image.tag": container.image_tag,
        }
        labels = allowed_labels(container.labels, options.label_allowlist)
        if labels:
            base["container.labels"] = labels
        base["service.name"] = container.service.name
        if options.host_name:
            base["host.name"] = options.host_name
        self.base = base
        # Every document starts as a copy of this (one C-level copy instead of a dict display with
        # ``**base``): the per-record keys are filled in, in the order the formats rely on.
        self.template: dict[str, Any] = {"@timestamp": "", "@version": "1", "message": "", "log.level": "",
                                         "stream": "", **base, "observe.time_ns": 0}

    def build(
        self,
        text: str,
        time_ns: int,
        stream: str,
        stack_trace: str = "",
        kind: str = "",
        invalid_utf8: bool = False,
        truncated: bool = False,
    ) -> dict[str, Any]:
        level: str | None = None
        timestamp = 0
        extra: dict[str, Any] | None = None
        message = text
        body = json_body(text) if not stack_trace and (text[:1] == "{" or text[:1] in " \t\ufeff") else None
        overflow = False
        if body is not None:
            got = self._parse_json(body)
            if got is not None:
                extra, overflow = got
                for key in _MESSAGE_KEYS:
                    value = extra.get(key)
                    if type(value) is str:
                        message = extra.pop(key)
                        if self.options.strip_ansi and "\x1b" in message:
                            message = ANSI.sub("", message)
                        break
                clef = "@t" in extra or "@mt" in extra
                for key in _LEVEL_KEYS:
                    if key in extra:
                        value = extra[key]
                        level = LEVEL_WORDS.get(value) if type(value) is str else None
                        if level is None:
                            level = canonical_level(value)
                        if level is not None:
                            del extra[key]
                            break
                else:
                    nested = extra.get("log")
                    if isinstance(nested, dict) and "level" in nested:
                        level = canonical_level(nested["level"])
                        if level is not None:
                            del nested["level"]
                            if not nested:
                                del extra["log"]
                    if level is None and clef:
                        level = "info"  # Serilog leaves @l out for Information
                for key in _TIME_KEYS:
                    if key in extra:
                        parsed = parse_time(extra[key])
                        if parsed is not None:
                            timestamp = parsed
                            del extra[key]
                            break
        if kind == GO:
            level = "fatal"
        elif level is None:
            level = detect_level(text) if extra is None else None
            if level is None:
                level = "error" if kind in (JAVA, PYTHON) else self.default_level.get(stream, "info")
        if not invalid_utf8 and ("\ufffd" in text or "\ufffd" in stack_trace):
            invalid_utf8 = True
        when = timestamp or time_ns
        stamp = format_time_ns(when)
        doc = self.template.copy()
        doc["@timestamp"] = stamp
        doc["message"] = message
        doc["log.level"] = level
        doc["stream"] = stream
        doc["observe.time_ns"] = time_ns
        if stack_trace:
            doc["error.stack_trace"] = stack_trace
        if truncated:
            doc["log.truncated"] = True
        if invalid_utf8:
            doc["log.invalid_utf8"] = True
        if overflow:
            self.counters["fields_overflow"] += 1
            doc["observe.app_json"] = body
            doc["observe.app_overflow"] = True
        elif extra:
            if self.json_key:
                doc[self.json_key] = extra
            else:
                if not CLAIMED.isdisjoint(extra):
                    claim(extra, doc)
                doc.update(extra)
        return doc

    def _parse_json(self, body: str) -> tuple[dict[str, Any], bool] | None:
        """The line's object, tidied (``observe.logs.fields.tidy``), and whether it is over the bounds.

        None when the line is not a JSON object. Over the bounds, the object is returned as
        parsed: its message, level and time are still read from it.
        """
        try:
            value = orjson.loads(body)
            exact = False
        except orjson.JSONDecodeError:
            value = lenient_loads(body)
            if value is None:
                self.counters["json_failed"] += 1
                return None
            exact = True
        if type(value) is not dict:  # pragma: no cover - "{...}" that parses is an object
            return None
        top = not self.json_key
        try:
            try:
                value = tidy(value, top, floats=not exact)
            except BigNumber:
                value = lenient_loads(body)
                exact = True
                value = tidy(value, top)
        except Overflow:
            self.counters["json_parsed"] += 1
            return value, True
        if exact:
            self.counters["json_lenient"] += 1
        self.counters["json_parsed"] += 1
        return value, False


def normalise(
    text: str,
    time_ns: int,
    stream: str,
    container: ContainerInfo,
    options: NormaliseOptions,
    *,
    stack_trace: str = "",
    invalid_utf8: bool = False,
) -> dict[str, Any]:
    """One log entry as a flat record document.

    Args:
        text: the line, without its newline (trailing CRs, ANSI codes and excess length are
            dealt with here as in the pipeline).
        time_ns: Docker's time of the line.
        stream: "stdout" or "stderr".
        container: the container that wrote it.
        options: normalisation options.
        stack_trace: the merged text of a multi-line entry (sets ``error.stack_trace``).
        invalid_utf8: the reader replaced invalid bytes in this line.

    Returns:
        The document, as described in the module docstring.
    """
    builder = Builder(container, options, dict.fromkeys(COUNTER_KINDS, 0))
    text, truncated = clean_text(text, options.strip_ansi, options.max_line_bytes)
    return builder.build(text, time_ns, stream, stack_trace=stack_trace, invalid_utf8=invalid_utf8,
                         truncated=truncated)
