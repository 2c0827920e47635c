"""Normalisation: a container's raw log lines in, logstash/ECS records out. Pure.

No I/O, no clock (``now`` is passed in), no Docker: everything here is tested with plain
values. Per container, a ``LogPipeline`` joins Docker's partial chunks, merges multi-line
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
  where it is the exception line that ends it.
- ``log.truncated: true`` when the line was cut at ``max_line_bytes``;
  ``log.invalid_utf8: true`` when the reader replaced invalid bytes or the text holds U+FFFD.

An application line that is a JSON object gives its message (``msg``, ``message``, ``log``,
then structlog's ``event``: the first holding a string), level (``level``, ``severity``,
``lvl``, ``levelname``, ``log.level`` or ``{"log": {"level": ..}}``) and time (``time``,
``ts``, ``timestamp``, ``@timestamp``: the first that parses). A field is consumed only when
recognised; an unknown level or unparseable time stays among the application's fields. The
remaining fields go to the top level (or under ``json_key``) as they came; one whose name
is taken by a field above (``log``, ``container``, ``service``, ``host``, ``message`` ...)
is kept as ``app_<name>``. Without a message field, the message is the whole line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from observe.logs.levels import LEVEL_WORDS, canonical_level, detect_level
from observe.logs.multiline import GO, JAVA, PYTHON, Entry, Group, Merger, PartialJoiner
from observe.model import ContainerInfo, LogLine, LogPosition, Record, allowed_labels
from observe.timefmt import format_time_ns, parse_time

COUNTER_KINDS = ("truncated", "invalid_utf8", "partial_joined", "json_parsed", "json_failed")

_MESSAGE_KEYS = ("msg", "message", "log", "event")
_LEVEL_KEYS = ("level", "severity", "lvl", "levelname", "log.level")
_TIME_KEYS = ("time", "ts", "timestamp", "@timestamp")

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[@-Z\\-_])")
_DEPTH_GUARD = 250  # orjson writes at most 254 levels of nesting


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
    """

    host_name: str = ""
    label_allowlist: tuple[str, ...] = ()
    json_key: str = ""
    default_level: Mapping[str, str] = field(default_factory=_default_levels)
    strip_ansi: bool = True
    max_line_bytes: int = 1024 * 1024
    multiline: bool = True
    flush_timeout: float = 1.0


def clean_text(text: str, options: NormaliseOptions) -> tuple[str, bool]:
    """A line's text with trailing CRs and (optionally) ANSI escapes removed, cut to the cap.

    Returns:
        The text and whether it was truncated.
    """
    if text and text[-1] == "\r":
        text = text.rstrip("\r")
    if options.strip_ansi and "\x1b" in text:
        text = _ANSI.sub("", text)
    cap = options.max_line_bytes
    if len(text) * 4 > cap and not (text.isascii() and len(text) <= cap):
        raw = text.encode("utf-8", "replace")
        if len(raw) > cap:
            return raw[:cap].decode("utf-8", "ignore"), True
    return text, False


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


class _Builder:
    """Builds documents for one container: the per-container fields computed once."""

    __slots__ = ("base", "counters", "default_level", "json_key", "options", "reserved")

    def __init__(self, container: ContainerInfo, options: NormaliseOptions, counters: dict[str, int]) -> None:
        self.options = options
        self.counters = counters
        self.default_level = dict(options.default_level)
        self.json_key = options.json_key
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
        keys = {"@timestamp", "@version", "message", "log.level", "stream", "observe.time_ns", "log.truncated",
                "log.invalid_utf8", *base}
        self.reserved = frozenset(keys | {key.split(".", 1)[0] for key in keys})

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
        if text[:1] == "{" and text[-1:] == "}" and not stack_trace:
            extra = self._parse_json(text)
            if extra is not None:
                for key in _MESSAGE_KEYS:
                    value = extra.get(key)
                    if type(value) is str:
                        message = extra.pop(key)
                        if self.options.strip_ansi and "\x1b" in message:
                            message = _ANSI.sub("", message)
                        break
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
        doc: dict[str, Any] = {
            "@timestamp": stamp,
            "@version": "1",
            "message": message,
            "log.level": level,
            "stream": stream,
            **self.base,
            "observe.time_ns": time_ns,
        }
        if stack_trace:
            doc["error.stack_trace"] = stack_trace
        if truncated:
            doc["log.truncated"] = True
        if invalid_utf8:
            doc["log.invalid_utf8"] = True
        if extra:
            json_key = self.json_key
            if json_key:
                doc[self._free(json_key, doc, extra)] = extra
            elif self.reserved.isdisjoint(extra):
                doc.update(extra)
            else:
                for key, value in extra.items():
                    doc[self._free(key, doc, extra) if key in self.reserved else key] = value
        return doc

    def _free(self, key: str, doc: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
        """``key``, or ``app_<key>`` (repeatedly) until it clashes with nothing."""
        while key in self.reserved or key in doc or key in extra:
            key = "app_" + key
        return key

    def _parse_json(self, text: str) -> dict[str, Any] | None:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.counters["json_failed"] += 1
            return None
        if not isinstance(value, dict):  # pragma: no cover - "{...}" that parses is an object
            return None
        if len(text) > 2 * _DEPTH_GUARD and text.count("{") + text.count("[") > _DEPTH_GUARD:
            try:
                orjson.dumps(value)
            except orjson.JSONEncodeError:
                self.counters["json_failed"] += 1
                return None
        self.counters["json_parsed"] += 1
        return value


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
    builder = _Builder(container, options, dict.fromkeys(COUNTER_KINDS, 0))
    text, truncated = clean_text(text, options)
    return builder.build(text, time_ns, stream, stack_trace=stack_trace, invalid_utf8=invalid_utf8,
                         truncated=truncated)


class LogPipeline:
    """Per container: partial joining -> multi-line merging -> normalisation.

    Feed raw lines in the order the reader produced them (both streams through one pipeline);
    records come out in the order of their first raw line. A record may be held until the
    next line shows whether it continues; ``flush_due`` releases what waited longer than
    ``flush_timeout`` and ``flush_all`` everything.

    ``counters`` holds cumulative counts of ``COUNTER_KINDS``: truncated and invalid_utf8
    logical lines, partial chunks joined, JSON lines parsed and ``{...}`` lines that failed.
    Not thread-safe: one pipeline belongs to one reader thread.
    """

    def __init__(self, container: ContainerInfo, options: NormaliseOptions) -> None:
        self.options = options
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_KINDS, 0)
        self._builder = _Builder(container, options, self.counters)
        self._joiner = PartialJoiner(options.max_line_bytes)
        self._merger = Merger(options.multiline, options.max_line_bytes)
        self._last_position: LogPosition | None = None
        self._timeout = options.flush_timeout
        self._strip_ansi = options.strip_ansi
        self._quick_cap = options.max_line_bytes // 4  # no shorter text can be over the cap

    @property
    def pending(self) -> bool:
        """True while some raw line is held (an unfinished partial line or an open group)."""
        return self._merger.group is not None or self._joiner.active

    def update_container(self, container: ContainerInfo) -> None:
        """Use a container's new details (after a rename) for the records still to come."""
        self._builder = _Builder(container, self.options, self.counters)

    def feed(self, line: LogLine, now: float) -> list[Record]:
        """Take one raw line; return the records it completes (often none or one).

        Args:
            line: the next raw line of this container.
            now: monotonic seconds, for the flush timeout.
        """
        prev = self._last_position
        self._last_position = line.position
        groups: list[Group] = []
        if not line.partial and not self._joiner.queue:
            text = line.text
            truncated = False
            if (text[-1:] == "\r") or (self._strip_ansi and "\x1b" in text) or len(text) > self._quick_cap:
                text, truncated = clean_text(text, self.options)
                if truncated:
                    self.counters["truncated"] += 1
            self._merger.push(
                Entry(text, line.time_ns, line.stream, line.position, prev, now, 1, line.invalid_utf8, truncated),
                groups,
            )
        else:
            if line.partial:
                self.counters["partial_joined"] += 1
            entries: list[Entry] = []
            self._joiner.push(line, now, prev, entries)
            self._merge(entries, groups)
        return self._records(groups) if groups else []

    def flush_due(self, now: float) -> list[Record]:
        """Release what has waited ``flush_timeout`` seconds or more since its last line."""
        groups: list[Group] = []
        if self._joiner.active:
            entries: list[Entry] = []
            self._joiner.flush_due(now, self._timeout, entries)
            self._merge(entries, groups)
        group = self._merger.group
        if group is not None and now - group.last_now >= self._timeout:
            self._merger.take()
            groups.append(group)
        return self._records(groups) if groups else []

    def flush_all(self) -> list[Record]:
        """Release everything held, as it stands (container stopped, shutting down)."""
        groups: list[Group] = []
        entries: list[Entry] = []
        self._joiner.flush_all(entries)
        self._merge(entries, groups)
        group = self._merger.take()
        if group is not None:
            groups.append(group)
        return self._records(groups) if groups else []

    def _merge(self, entries: list[Entry], groups: list[Group]) -> None:
        options = self.options
        counters = self.counters
        for entry in entries:
            text, truncated = clean_text(entry.text, options)
            if truncated or entry.truncated:
                counters["truncated"] += 1
            entry.text = text
            entry.truncated = truncated or entry.truncated
            self._merger.push(entry, groups)

    def _watermark(self) -> LogPosition | None:
        group = self._merger.group
        if group is not None:
            return group.prev_position
        if self._joiner.active:
            return self._joiner.prev_position
        return self._last_position

    def _records(self, groups: list[Group]) -> list[Record]:
        build = self._builder.build
        out: list[Record] = []
        last = len(groups) - 1
        for i, group in enumerate(groups):
            position = groups[i + 1].prev_position if i < last else self._watermark()
            more = group.more
            if more is None:
                text = group.text
                doc = build(text, group.time_ns, group.stream, "", group.kind, group.invalid_utf8, group.truncated)
                nbytes = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
            else:
                lines = group.lines()
                stack = "\n".join(lines)
                message = lines[-1] if group.kind == PYTHON and len(lines) > 1 else lines[0]
                doc = build(message, group.time_ns, group.stream, stack, group.kind, group.invalid_utf8,
                            group.truncated)
                nbytes = _utf8_len(stack)
            if "log.invalid_utf8" in doc:
                self.counters["invalid_utf8"] += 1
            out.append(Record(doc, group.time_ns, doc["log.level"], group.stream, position, group.raw_lines, nbytes))
        return out
