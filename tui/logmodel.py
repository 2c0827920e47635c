"""The logs pane as data: entries made from normalised records, filters, search. Pure, no Textual.

Records arrive in batches from the core's log follower; each becomes a small ``LogEntry``
holding what a line shows plus the record itself (for the JSON view). Memory is bounded by
the caller's ``deque(maxlen=...)``: whatever the log rate, only the newest entries are kept.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from observe.model import LEVEL_RANK, LEVELS
from observe.timefmt import format_ns

LEVEL_FILTERS = ("", "debug", "info", "warn", "error")
"""The level filter's steps: everything, then "this level and above"."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One record as the logs pane shows it. ``seq`` increases by one per entry of a pane.

    ``tag`` names the replica a line came from in a service's merged logs ("" in a container's own),
    ``tag_colour`` picks its colour.
    """

    seq: int
    time_ns: int
    level: str
    stream: str
    message: str
    extra_lines: int
    doc: Mapping[str, Any]
    tag: str = ""
    tag_colour: int = 0
    cols: int = 0
    """``width(False)``, worked out once when the entry is made (0: work it out each time)."""

    @property
    def rank(self) -> int:
        return LEVEL_RANK.get(self.level, LEVEL_RANK["info"])

    def stamp(self) -> str:
        """``HH:MM:SS.mmm`` in UTC, from Docker's time of the line."""
        return format_ns(self.time_ns)[11:23]

    def line(self, timestamps: bool = True) -> str:
        """The text of the line as shown (and saved): ``[time] [tag] LEVEL message [+N lines]``."""
        more = f"  [+{self.extra_lines} lines]" if self.extra_lines else ""
        head = f"{self.stamp()} " if timestamps else ""
        tag = f"{self.tag} " if self.tag else ""
        return f"{head}{tag}{self.level.upper():<5} {self.message}{more}"

    def tag_start(self, timestamps: bool = True) -> int:
        """Where ``tag`` starts in ``line(timestamps)``."""
        return STAMP_WIDTH + 1 if timestamps else 0

    def width(self, timestamps: bool = True) -> int:
        """``len(self.line(timestamps))`` by arithmetic: no formatting per line when only the width is needed."""
        return (STAMP_WIDTH + 1 if timestamps else 0) + (self.cols or self.untimed_width())

    def untimed_width(self) -> int:
        """``len(self.line(False))``, by arithmetic."""
        return untimed_width(self.level, self.message, self.extra_lines, self.tag)


def untimed_width(level: str, message: str, extra_lines: int, tag: str) -> int:
    """The width of an entry's line without its time (``LogEntry.line(False)``), by arithmetic."""
    more = len(f"  [+{extra_lines} lines]") if extra_lines else 0
    return (len(tag) + 1 if tag else 0) + max(5, len(level)) + 1 + len(message) + more


STAMP_WIDTH = len("00:00:00.000")


def entry_from_doc(seq: int, doc: Mapping[str, Any], time_ns: int, level: str, stream: str, tag: str = "",
                   tag_colour: int = 0) -> LogEntry:
    """A ``LogEntry`` from a normalised record's fields (``observe.logs.normalise.Record``), ``tag``: its replica."""
    message = str(doc.get("message", ""))
    first, _, rest = message.partition("\n")
    trace = doc.get("error.stack_trace")
    extra = rest.count("\n") + 1 if rest else 0
    if isinstance(trace, str) and trace:
        extra = max(extra, trace.count("\n"))
    lvl = level if level in LEVEL_RANK else str(doc.get("log.level", "info"))
    lvl = lvl if lvl in LEVEL_RANK else "info"
    cols = untimed_width(lvl, first, extra, tag)
    return LogEntry(seq, time_ns, lvl, stream, first, extra, doc, tag, tag_colour, cols)


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which entries are shown: a minimum level and an optional regular expression on the line.

    ``error`` holds the message of a pattern that does not compile (then nothing is filtered by it).
    """

    min_level: str = ""
    pattern: str = ""
    error: str = ""

    @classmethod
    def make(cls, min_level: str = "", pattern: str = "") -> LogQuery:
        if min_level and min_level not in LEVEL_RANK:
            raise ValueError(f"unknown level {min_level!r}; expected one of {', '.join(LEVELS)}")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as err:
                return cls(min_level, "", f"bad regular expression: {err}")
        return cls(min_level, pattern)

    def select(self, entries: Iterable[LogEntry]) -> list[LogEntry]:
        """The entries ``keeps`` keeps, in order: a level-only filter runs without a call per entry."""
        if self.pattern:
            return [e for e in entries if self.keeps(e)]
        if not self.min_level:
            return list(entries)
        rank, low, info = LEVEL_RANK.get, LEVEL_RANK[self.min_level], LEVEL_RANK["info"]
        return [e for e in entries if rank(e.level, info) >= low]

    def keeps(self, entry: LogEntry) -> bool:
        if self.min_level and entry.rank < LEVEL_RANK[self.min_level]:
            return False
        return not self.pattern or _compiled(self.pattern).search(entry.line(False)) is not None


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _CACHE.get(pattern)
    if found is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        found = _CACHE[pattern] = re.compile(pattern)
    return found


def next_level(current: str) -> str:
    """The level filter after ``current`` in ``LEVEL_FILTERS`` (wrapping around)."""
    i = LEVEL_FILTERS.index(current) if current in LEVEL_FILTERS else 0
    return LEVEL_FILTERS[(i + 1) % len(LEVEL_FILTERS)]


def search_spans(text: str, needle: str) -> list[tuple[int, int]]:
    """Where ``needle`` occurs in ``text``, case-insensitively, without overlaps."""
    if not needle:
        return []
    hay, low = text.lower(), needle.lower()
    spans: list[tuple[int, int]] = []
    start = hay.find(low)
    while start >= 0:
        spans.append((start, start + len(low)))
        start = hay.find(low, start + len(low))
    return spans


def find_match(entries: list[LogEntry], needle: str, start: int, forward: bool, timestamps: bool) -> int | None:
    """The index of the next (or previous) entry after ``start`` whose line contains ``needle``, wrapping."""
    n = len(entries)
    if not needle or not n:
        return None
    step = 1 if forward else -1
    low = needle.lower()
    i = start
    for _ in range(n):
        i = (i + step) % n
        if low in entries[i].line(timestamps).lower():
            return i
    return None


def pretty_record(doc: Mapping[str, Any]) -> str:
    """The record as indented JSON, keys in their original order, non-JSON values as text."""
    return json.dumps(dict(doc), indent=2, ensure_ascii=False, default=str)


def render_lines(entries: Iterable[LogEntry], timestamps: bool) -> str:
    """What "save" writes: the shown lines, one per line, newline-terminated."""
    return "".join(e.line(timestamps) + "\n" for e in entries)


ENTRY_OVERHEAD = 1000
"""Bytes an entry costs beyond its raw line (the record's dict, the entry, the deque slot): about what
bench_tui measured (RSS grew ~1 KB per kept record of a short JSON line)."""


class LogHistory:
    """The entries a logs pane keeps, bounded by count and by estimated memory, oldest dropped first.

    Bounded by memory rather than by time: a quiet container keeps days, a 2,000 lines/s one
    keeps the last ``max_entries`` (100,000 by default: fifty seconds), never more than ``max_bytes``.
    """

    def __init__(self, max_entries: int = 100_000, max_bytes: int = 64 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: deque[tuple[LogEntry, int]] = deque()
        self.bytes = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[LogEntry]:
        return (e for e, _ in self._items)

    def add(self, entry: LogEntry, nbytes: int) -> None:
        """Keep ``entry`` (``nbytes``: its raw size), dropping the oldest beyond the bounds."""
        cost = nbytes + ENTRY_OVERHEAD
        self._items.append((entry, cost))
        self.bytes += cost
        while len(self._items) > self.max_entries or (self.bytes > self.max_bytes and len(self._items) > 1):
            _, gone = self._items.popleft()
            self.bytes -= gone
            self.dropped += 1

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


SAVE_FORMATS = ("text", "jsonl")


def render_records(entries: Iterable[LogEntry], fmt: str = "text", timestamps: bool = True) -> str:
    """What "save" writes: whole records. ``text``: each record's line then the rest of its message and
    its stack trace; ``jsonl``: each record as one JSON object with all its fields."""
    if fmt == "jsonl":
        return "".join(json.dumps(dict(e.doc), ensure_ascii=False, default=str) + "\n" for e in entries)
    out: list[str] = []
    for e in entries:
        head = f"{e.stamp()} " if timestamps else ""
        tag = f"{e.tag} " if e.tag else ""
        message = str(e.doc.get("message", e.message))
        out.append(f"{head}{tag}{e.level.upper():<5} {message}\n")
        trace = e.doc.get("error.stack_trace")
        if isinstance(trace, str) and trace and trace.strip() not in message:
            out.append(trace if trace.endswith("\n") else trace + "\n")
    return "".join(out)

