"""Per container: Docker's partial chunks joined, multi-line records merged, each result normalised. Pure.

``LogPipeline`` is the log path's one assembly line: readers feed it raw lines, it gives records
whose positions never pass a raw line it still holds (``Record.position``).
"""

from __future__ import annotations

from observe.logs.multiline import (
    PY_CUT_SHORT,
    PYTHON,
    Entry,
    Group,
    Merger,
    PartialJoiner,
    is_blank,
)
from observe.logs.normalise import COUNTER_KINDS, Builder, NormaliseOptions
from observe.logs.text import clean_text, utf8_len
from observe.model import ContainerInfo, LogLine, LogPosition, Record


class LogPipeline:
    """Per container: partial joining -> multi-line merging -> normalisation.

    Feed raw lines in the order the reader produced them (both streams through one pipeline).
    A record may be held until the next line of its stream shows whether it continues;
    ``flush_due`` releases what waited longer than ``flush_timeout`` and ``flush_all``
    everything. Records of one stream come out in the order of their first raw line, except
    that a JSON line comes out at once; a record of the other stream may come out while a
    group (a stack trace) is held. Each record's ``position`` obeys ``Record.position``: it never passes a
    raw line still held, so positions never go back from one record to the next.

    ``counters`` holds cumulative counts of ``COUNTER_KINDS``: truncated and invalid_utf8
    logical lines, partial chunks joined, JSON lines parsed, read only by the lenient parser
    and ``{...}`` lines that failed, application objects kept whole (too wide or deep) and
    blank lines dropped (``drop_blank``). Not thread-safe: one pipeline belongs to one reader
    thread. ``positions=False`` leaves every ``Record.position`` None (a reading that never
    resumes, such as ``observe logs`` without ``-f``, skips working them out).
    """

    def __init__(self, container: ContainerInfo, options: NormaliseOptions, positions: bool = True) -> None:
        self.options = options
        self._positions = positions
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_KINDS, 0)
        self._builder = Builder(container, options, self.counters)
        self._joiner = PartialJoiner(options.max_line_bytes)
        self._merger = Merger(options.multiline, options.max_line_bytes)
        self._last_position: LogPosition | None = None
        self._seq = 0
        self._timeout = options.flush_timeout
        self._strip_ansi = options.strip_ansi
        self._drop_blank = options.drop_blank
        self._quick_cap = options.max_line_bytes // 4  # no shorter text can be over the cap

    @property
    def pending(self) -> bool:
        """True while some raw line is held (an unfinished partial line or an open group)."""
        return bool(self._merger.open) or self._joiner.active

    def held_starts(self) -> tuple[tuple[str, tuple[str, int]], ...] | None:
        """What is held, told by where it began; None when that cannot be told.

        Per stream with a held group: (stream, (file id, offset) of the raw line fed just
        before the group's first line). A held group is determined by the lines from its
        first one on, so two pipelines with equal ``held_starts`` after the same raw line hold
        the same thing and, fed the same lines from there, give the same records
        (``observe.logs.parallel`` relies on it). None while a partial line is held or when a
        held group began at the first line fed (nothing was fed before it to tell where).
        """
        if self._joiner.active:
            return None
        held = self._merger.open
        if not held:
            return ()
        starts = []
        for stream, group in held.items():
            before = group.prev_position
            if before is None:
                return None
            starts.append((stream, (before.file_id, before.offset)))
        starts.sort()
        return tuple(starts)

    def start_after(self, position: LogPosition | None) -> None:
        """Before the first line: the raw line before it was at ``position`` (a reading resumed there)."""
        self._last_position = position

    def update_container(self, container: ContainerInfo) -> None:
        """Use a container's new details (after a rename) for the records still to come."""
        self._builder = Builder(container, self.options, self.counters)

    def feed(self, line: LogLine, now: float) -> list[Record]:
        """Take one raw line; return the records it completes (often none or one).

        Args:
            line: the next raw line of this container.
            now: monotonic seconds, for the flush timeout.
        """
        time_ns, stream, text, partial, invalid_utf8, position = line
        prev = self._last_position
        self._last_position = position
        seq = self._seq = self._seq + 1
        groups: list[Group] = []
        if not partial and not self._joiner.queue:
            truncated = False
            if (text[-1:] == "\r") or (self._strip_ansi and "\x1b" in text) or len(text) > self._quick_cap:
                text, truncated = clean_text(text, self.options.strip_ansi, self.options.max_line_bytes)
                if truncated:
                    self.counters["truncated"] += 1
            self._merger.push(Entry(text, time_ns, stream, position, prev, now, 1, invalid_utf8, truncated, seq),
                              groups)
        else:
            if line.partial:
                self.counters["partial_joined"] += 1
            entries: list[Entry] = []
            self._joiner.push(line, now, prev, entries, seq)
            self._merge(entries, groups)
        return self._records(groups) if groups else []

    def flush_due(self, now: float) -> list[Record]:
        """Release what has waited ``flush_timeout`` seconds or more since its last line."""
        groups: list[Group] = []
        if self._joiner.active:
            entries: list[Entry] = []
            self._joiner.flush_due(now, self._timeout, entries)
            self._merge(entries, groups)
        if self._merger.open:
            self._merger.take_due(now, self._timeout, groups)
        return self._records(groups) if groups else []

    def flush_all(self) -> list[Record]:
        """Release everything held, as it stands (container stopped, shutting down)."""
        groups: list[Group] = []
        entries: list[Entry] = []
        self._joiner.flush_all(entries)
        self._merge(entries, groups)
        self._merger.take(groups)
        return self._records(groups) if groups else []

    def _merge(self, entries: list[Entry], groups: list[Group]) -> None:
        options = self.options
        counters = self.counters
        for entry in entries:
            text, truncated = clean_text(entry.text, options.strip_ansi, options.max_line_bytes)
            if truncated or entry.truncated:
                counters["truncated"] += 1
            entry.text = text
            entry.truncated = truncated or entry.truncated
            self._merger.push(entry, groups)

    def _watermark(self) -> tuple[int, LogPosition | None]:
        """(feed number, ``prev_position``) of the oldest raw line still held; past the last line when none is."""
        seq = self._seq + 1
        position = self._last_position
        held = self._merger.open
        if held:
            if len(held) == 1:
                for group in held.values():
                    seq, position = group.seq, group.prev_position
            else:
                oldest = self._merger.oldest()
                if oldest is not None:
                    seq, position = oldest.seq, oldest.prev_position
        joiner = self._joiner
        if joiner.active and joiner.seq < seq:
            seq, position = joiner.seq, joiner.prev_position
        return seq, position

    def _records(self, groups: list[Group]) -> list[Record]:
        if self._drop_blank:
            kept = [g for g in groups if g.more is not None or not is_blank(g.text)]
            if len(kept) != len(groups):
                self.counters["blank_dropped"] += len(groups) - len(kept)
                groups = kept
                if not groups:
                    return []
        # Each record's position: just before the oldest raw line of what comes after it or is held.
        floor, position = self._watermark() if self._positions else (0, None)
        if len(groups) == 1:  # the common case: one line, one record
            group = groups[0]
            if group.more is None:
                text = group.text
                doc = self._builder.build(text, group.time_ns, group.stream, "", group.kind, group.invalid_utf8,
                                          group.truncated)
                if "log.invalid_utf8" in doc:
                    self.counters["invalid_utf8"] += 1
                return [tuple.__new__(Record, (doc, group.time_ns, doc["log.level"], group.stream, position,
                                               group.raw_lines, len(text) if text.isascii() else
                                               len(text.encode("utf-8", "replace"))))]
            positions: list[LogPosition | None] = [position]
        else:
            positions = [None] * len(groups)
            for i in range(len(groups) - 1, -1, -1) if self._positions else ():
                positions[i] = position
                group = groups[i]
                if group.seq < floor:
                    floor, position = group.seq, group.prev_position
        build = self._builder.build
        out: list[Record] = []
        for group, position in zip(groups, positions, strict=True):
            more = group.more
            if more is None:
                text = group.text
                doc = build(text, group.time_ns, group.stream, "", group.kind, group.invalid_utf8, group.truncated)
                nbytes = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
            else:
                lines = group.lines()
                stack = "\n".join(lines)
                python = group.kind == PYTHON and group.state != PY_CUT_SHORT  # the exception line was reached
                message = lines[-1] if python else lines[0]
                doc = build(message, group.time_ns, group.stream, stack, group.kind, group.invalid_utf8,
                            group.truncated)
                nbytes = utf8_len(stack)
            if "log.invalid_utf8" in doc:
                self.counters["invalid_utf8"] += 1
            out.append(tuple.__new__(Record, (doc, group.time_ns, doc["log.level"], group.stream, position,
                                              group.raw_lines, nbytes)))
        return out
