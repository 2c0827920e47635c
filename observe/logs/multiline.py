"""Line assembly before normalisation: Docker's partial chunks joined, multi-line records merged.

Pure and single-threaded: one ``PartialJoiner`` and one ``Merger`` per container, fed in the
order the reader produced the lines. Both keep the order of first raw lines: what comes out
is ordered by the raw line each unit started with, which is what lets a checkpoint advance
safely (see ``observe.logs.normalise.LogPipeline``).

Partial chunks are joined per stream (dockerd splits each stream on its own, so a stderr
line can fall between two stdout chunks); a complete line queued behind an unfinished
partial line waits for it.

Multi-line groups are kept per stream: a trace on stderr and lines on stdout interleaved each
stay whole. Rules, applied to the lines of one stream:

- Java: lines starting with whitespace (``\\tat ...``, ``\\t... 12 more``) and lines starting
  with ``Caused by:`` or ``Suppressed:`` continue the group. The group starts at the line
  before them (the exception line), so a logger's header line before the exception stays a
  record of its own.
- Python: ``Traceback (most recent call last):`` starts a group; indented frame lines
  continue it; the first line that is not indented is the exception line and ends the
  traceback, unless it begins a record of its own (a timestamp or level header, see
  ``observe.logs.levels.begins_record``, or a new ``Traceback``): then the traceback was cut
  short and ends before it. A chained traceback (blank line, ``During handling of the above
  exception`` / ``The above exception was the direct cause``, blank line, ``Traceback ...``)
  continues it.
- Go: ``panic:`` or ``fatal error:`` starts a group; blank lines, ``goroutine N [...]:``,
  ``[signal ...``, frame lines (``pkg.Func(...)``, ``created by ...``) and indented lines
  continue it.
- Generic: a line starting with a space or a tab continues any group.

No line is dropped. Lines that are whole JSON objects (``{...}``, also after a BOM or
surrounding whitespace: see ``json_body``) are never held and never continue or end a group:
they come out at once and the group of their stream stays open. An empty or whitespace-only
line never opens a group; one that would continue a group is held beside it and joins it
only if a continuation line follows, else it comes out as a record of its own after the
group. A group whose text reaches ``max_bytes`` is closed; the next line starts a new one.

Every logical line carries ``seq``, the feed number of its first raw line, so that the
pipeline can tell the oldest line still held whatever the stream (the checkpoint watermark).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from observe.logs.levels import begins_record
from observe.model import LogLine, LogPosition

TRACEBACK = "Traceback (most recent call last):"
_PY_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")
_GO_START = ("panic: ", "fatal error: ")
_GO_PREFIXES = ("goroutine ", "[signal ", "created by ", "panic: ", "[recovered", "exit status ", "fatal error: ")
_JAVA_CONT = ("Caused by: ", "Suppressed: ")
_JSON_PAD = " \t\ufeff"


def json_body(text: str) -> str | None:
    """The JSON object a line holds, or None: ``{...}`` as it stands, or after a BOM and surrounding spaces/tabs.

    Cheap for the lines that are not JSON: two character tests before any copy.
    """
    if text[:1] == "{" and text[-1:] == "}":
        return text
    if text and (text[0] in _JSON_PAD or text[-1] in _JSON_PAD):
        body = text.strip(_JSON_PAD)
        if body[:1] == "{" and body[-1:] == "}":
            return body
    return None


def is_blank(text: str) -> bool:
    """An empty or whitespace-only line."""
    return not text or ((text[0] <= " " or text[0].isspace()) and not text.strip())

# Group kinds: what the merged lines looked like.
PLAIN = "plain"  # one line, or lines joined by the generic indentation rule
JAVA = "java"  # indented "at ..." frames (Java, JavaScript, .NET)
PYTHON = "python"
GO = "go"

# Python traceback states.
_PY_FRAMES, _PY_END, _PY_CHAINED = 0, 1, 2
PY_CUT_SHORT = _PY_FRAMES
"""State of a Python group that ended before its exception line."""


class Entry:
    """One logical line (a raw line, or partial chunks joined back together), and the group
    of lines merged after it.

    ``prev_position`` is the position of the raw line fed just before this entry's first
    chunk: the furthest a checkpoint may go while this entry is still held; ``seq`` is that
    chunk's feed number. Continuation lines merged into the entry add their text to ``more``
    and move ``position``, ``last_now`` and ``raw_lines`` on; ``text`` stays the first line.
    Blank lines that may yet continue the group wait in ``blanks``.
    """

    __slots__ = ("blanks", "invalid_utf8", "kind", "last_now", "more", "position", "prev_position", "raw_lines",
                 "seq", "size", "state", "stream", "text", "time_ns", "truncated")

    def __init__(self, text: str, time_ns: int, stream: str, position: LogPosition | None,
                 prev_position: LogPosition | None, last_now: float, raw_lines: int = 1,
                 invalid_utf8: bool = False, truncated: bool = False, seq: int = 0) -> None:
        self.text = text
        self.time_ns = time_ns
        self.stream = stream
        self.position = position
        self.prev_position = prev_position
        self.last_now = last_now
        self.raw_lines = raw_lines
        self.invalid_utf8 = invalid_utf8
        self.truncated = truncated
        self.seq = seq
        self.kind = PLAIN
        self.blanks: list[Entry] | None = None
        self.more: list[str] | None = None
        self.size = 0
        self.state = 0

    def __repr__(self) -> str:
        return f"Entry({self.text!r}, {self.stream}, lines={self.raw_lines}, kind={self.kind})"

    def add(self, entry: Entry) -> None:
        """Merge a continuation line into this group (and the blank lines waiting before it)."""
        if self.more is None:
            self.more = []
        blanks = self.blanks
        if blanks is not None:
            self.blanks = None
            for blank in blanks:
                self.add(blank)
        self.more.append(entry.text)
        self.position = entry.position
        self.last_now = entry.last_now
        self.raw_lines += entry.raw_lines
        self.size += len(entry.text) + 1
        self.invalid_utf8 = self.invalid_utf8 or entry.invalid_utf8
        self.truncated = self.truncated or entry.truncated

    def hold(self, entry: Entry) -> None:
        """Keep a blank line beside the group until a continuation line (or the group's end) decides."""
        if self.blanks is None:
            self.blanks = []
        self.blanks.append(entry)

    def lines(self) -> list[str]:
        """All texts of the group in order."""
        out = [self.text]
        if self.more:
            out.extend(self.more)
        return out


Group = Entry
"""What the merger emits: an entry with the lines merged into it (most often none)."""


def _is_go_frame(text: str) -> bool:
    # "main.main()", "net/http.(*conn).serve(0xc0001, {0x6e3f40})", "panic({0x4a0a60?, 0x55d520?})"
    paren = text.find("(")
    return paren > 0 and text.endswith(")") and " " not in text[:paren]


def start_kind(text: str) -> str:
    """The kind of group a line opens."""
    if text.startswith(TRACEBACK):
        return PYTHON
    if text.startswith(_GO_START):
        return GO
    return PLAIN


class Merger:
    """Merges consecutive logical lines of each stream into multi-line groups.

    Args:
        enabled: False emits every line as its own group at once.
        max_bytes: a group holding about this many characters is closed.
    """

    def __init__(self, enabled: bool = True, max_bytes: int = 1024 * 1024) -> None:
        self.enabled = enabled
        self.max_bytes = max_bytes
        self.open: dict[str, Group] = {}  # the group held per stream

    def push(self, entry: Entry, out: list[Group]) -> None:
        """Take one logical line; append every group it completes to ``out``, in order."""
        text = entry.text
        if (text[:1] == "{" or text[-1:] == "}" or text[:1] in _JSON_PAD) and json_body(text) is not None:
            out.append(entry)
            return
        group = self.open.get(entry.stream)
        if group is not None:
            if group.size + len(text) < self.max_bytes and self._continues(group, text):
                if is_blank(text):
                    group.hold(entry)
                else:
                    group.add(entry)
                return
            del self.open[entry.stream]
            _close(group, out)
        if not self.enabled or is_blank(text):
            out.append(entry)
            return
        if text[:1] in "Tpf":
            entry.kind = start_kind(text)
        entry.size = len(text)
        self.open[entry.stream] = entry

    def take(self, out: list[Group]) -> None:
        """Release every held group (oldest first) into ``out``."""
        groups = sorted(self.open.values(), key=_seq)
        self.open.clear()
        for group in groups:
            _close(group, out)

    def take_due(self, now: float, timeout: float, out: list[Group]) -> None:
        """Release the groups whose last line is ``timeout`` seconds old or older."""
        for stream, group in sorted(self.open.items(), key=lambda item: item[1].seq):
            if now - group.last_now >= timeout:
                del self.open[stream]
                _close(group, out)

    def oldest(self) -> Group | None:
        """The held group whose first line came first (None when none is held)."""
        best: Group | None = None
        for group in self.open.values():  # one group per stream: two at most
            if best is None or group.seq < best.seq:
                best = group
        return best

    @staticmethod
    def _continues(group: Group, text: str) -> bool:
        kind = group.kind
        first = text[:1]
        if kind == PYTHON:
            state = group.state
            if state == _PY_FRAMES:
                if first == " " or first == "\t":
                    return True
                if not text or text.startswith(TRACEBACK) or begins_record(text):
                    return False
                group.state = _PY_END
                return True
            if is_blank(text) or text.startswith(_PY_CHAIN):
                group.state = _PY_CHAINED
                return True
            if state == _PY_CHAINED and text.startswith(TRACEBACK):
                group.state = _PY_FRAMES
                return True
            return False
        if kind == GO:
            return not text or first == " " or first == "\t" or text.startswith(_GO_PREFIXES) or _is_go_frame(text)
        if first == " " or first == "\t":
            if kind == PLAIN and text.lstrip().startswith(("at ", "... ")):
                group.kind = JAVA
            return True
        if text.startswith(_JAVA_CONT):
            group.kind = JAVA
            return True
        return False


def _seq(group: Group) -> int:
    return group.seq


def _close(group: Group, out: list[Group]) -> None:
    """Emit a group, then the blank lines held beside it, each on its own."""
    out.append(group)
    blanks = group.blanks
    if blanks is not None:
        group.blanks = None
        out.extend(blanks)


@dataclass(slots=True)
class _Partial:
    """An unfinished line being joined from Docker's partial chunks."""

    stream: str
    time_ns: int
    prev_position: LogPosition | None
    seq: int = 0
    chunks: list[str] = field(default_factory=list)
    nbytes: int = 0
    position: LogPosition | None = None
    last_now: float = 0.0
    raw_lines: int = 0
    invalid_utf8: bool = False
    truncated: bool = False

    def add(self, line: LogLine, now: float, max_bytes: int) -> None:
        self.position = line.position
        self.last_now = now
        self.raw_lines += 1
        self.invalid_utf8 = self.invalid_utf8 or line.invalid_utf8
        if self.truncated:
            return
        text = line.text
        size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
        if self.nbytes + size > max_bytes:
            room = max_bytes - self.nbytes
            text = text.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
            self.truncated = True
            size = room
        self.chunks.append(text)
        self.nbytes += size

    def entry(self) -> Entry:
        return Entry("".join(self.chunks), self.time_ns, self.stream, self.position, self.prev_position,
                     self.last_now, self.raw_lines, self.invalid_utf8, self.truncated, self.seq)


class PartialJoiner:
    """Joins Docker's partial chunks (lines over 16 KiB) back into whole lines, per stream.

    Keeps at most ``max_bytes`` of a joined line (further chunks are counted, not kept), so
    an endless line holds bounded memory. Output keeps the order of each line's first chunk.
    """

    def __init__(self, max_bytes: int = 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._open: dict[str, _Partial] = {}
        self.queue: deque[_Partial | Entry] = deque()  # held lines, oldest first; empty when nothing is

    @property
    def active(self) -> bool:
        """True while some line is unfinished (or waits behind an unfinished one)."""
        return bool(self.queue)

    @property
    def prev_position(self) -> LogPosition | None:
        """``prev_position`` of the oldest held line (only meaningful when ``active``)."""
        return self.queue[0].prev_position if self.queue else None

    @property
    def seq(self) -> int:
        """Feed number of the oldest held line (only meaningful when ``active``)."""
        return self.queue[0].seq if self.queue else 0

    def push(self, line: LogLine, now: float, prev_position: LogPosition | None, out: list[Entry],
             seq: int = 0) -> None:
        """Take one raw line (fed as number ``seq``); append every line it completes to ``out``, in order."""
        partial = self._open.get(line.stream)
        if partial is None:
            if line.partial:
                partial = _Partial(line.stream, line.time_ns, prev_position, seq)
                partial.add(line, now, self.max_bytes)
                self._open[line.stream] = partial
                self.queue.append(partial)
                return
            self.queue.append(Entry(line.text, line.time_ns, line.stream, line.position, prev_position, now, 1,
                                     line.invalid_utf8, False, seq))
        else:
            partial.add(line, now, self.max_bytes)
            if line.partial:
                return
            del self._open[line.stream]
        self._release(out)

    def flush_due(self, now: float, timeout: float, out: list[Entry]) -> None:
        """Finish unfinished lines at the head of the queue whose last chunk is ``timeout`` old."""
        queue = self.queue
        while queue:
            head = queue[0]
            if isinstance(head, _Partial) and self._open.get(head.stream) is head:
                if now - head.last_now < timeout:
                    return
                del self._open[head.stream]
            queue.popleft()
            out.append(head.entry() if isinstance(head, _Partial) else head)

    def flush_all(self, out: list[Entry]) -> None:
        """Finish every unfinished line, as it stands."""
        while self.queue:
            head = self.queue.popleft()
            out.append(head.entry() if isinstance(head, _Partial) else head)
        self._open.clear()

    def _release(self, out: list[Entry]) -> None:
        queue = self.queue
        while queue:
            head = queue[0]
            if isinstance(head, _Partial):
                if self._open.get(head.stream) is head:
                    return
                queue.popleft()
                out.append(head.entry())
            else:
                queue.popleft()
                out.append(head)
