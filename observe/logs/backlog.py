"""A large json-file backlog read by two processes in ``observe run``, delivered as one process would.

When a followed container's current log file holds ``--split-backlog`` unread bytes or more,
``read_split`` forks a second reader for the part after a well-formed line ``B`` (the cut; this
process also delivers, so it takes less). It runs a copy of the fresh pipeline from ``B`` and
encodes its records for every sink's ``Encoding`` into unlinked temporary files. Past ``B`` this
process reads line by line until its pipeline holds what the other's did after the same line
(``LogPipeline.held_starts``, as ``observe.logs.parallel`` joins for ``observe logs``); from
there it delivers the other's bytes in chunks, each with its last record's position.

Hand-back: each chunk notes what the second reader's pipeline holds and where its oldest held
group began; a fresh pipeline reading again from there to the chunk's last line, its records
dropped, holds the same (``reread``). The second reader stops at the file's end as at the fork.
When the two never agree within ``WINDOW`` lines, or the second reader fails or is stopped
before its first chunk, this process reads on by itself; after some chunks, from the last one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from observe.logs.jsonfile import JsonFileReader
from observe.logs.parallel import find_cut
from observe.logs.pipeline import LogPipeline
from observe.logs.sinks.base import Encoding, encode
from observe.model import LogLine, LogPosition, Record
from observe.runtime import spare_cpus, usable_cpus
from observe.telemetry import sum_records

log = logging.getLogger(__name__)

SHARE = 0.45
"""This process's share of the backlog: it also hands records to the sinks and delivers the other's."""
WINDOW = 2_000
"""Lines past the cut the second reader notes, for this process to find where they agree."""
OVERDUE = 1 << 20
"""Bytes encoded without a chunk (nothing could tell what was held) before the second reader looks at every line."""
ROOM = 3
"""Temporary space wanted per encoding, as a multiple of the second reader's share of the log."""

Held = tuple[tuple[str, tuple[str, int]], ...] | None
Sums = dict[tuple[str, str], int]
HandBack = tuple[LogPosition, int, Held]
"""Where a fresh pipeline re-reads from, the offset to re-read to (its records already out), what it then holds."""
_busy = threading.Lock()  # one split at a time in a process: each wants a core of its own


class Mark(NamedTuple):
    """The second reader's running totals after a line."""
    outs: tuple[int, ...]  # bytes written, per encoding
    truncated: tuple[int, ...]  # records cut to fit, per encoding
    records: int
    position: LogPosition | None  # the last record's
    lines: Sums
    nbytes: Sums
    flags: dict[str, int]  # the pipeline's counters
    resume: LogPosition | None  # a chunk's end: a fresh pipeline reads on after this


class Chunk(NamedTuple):
    """Records the second reader encoded, between two of its marks: what ``Delivery.send_encoded`` takes."""
    encoded: dict[Encoding, tuple[bytes, int]]
    records: int
    position: LogPosition | None
    lines: Sums
    nbytes: Sums
    flags: dict[str, int]


@dataclass(frozen=True, slots=True)
class Plan:
    """A backlog worth two readers: the log, the second reader's start and the end it reads to."""
    path: str
    child_at: LogPosition
    end: int
    encodings: tuple[Encoding, ...]


def plan(path: str, position: LogPosition | None, min_bytes: int, encodings: tuple[Encoding, ...]) -> Plan | None:
    """A ``Plan`` when the unread part of ``path``'s current file is ``min_bytes`` or more and a second core is here.

    ``position``: where this process starts (None: the first line of the log, which must then
    have no rotated file before it).
    """
    if min_bytes <= 0 or not encodings or not hasattr(os, "fork") or len(usable_cpus()) < 2:
        return None
    end = JsonFileReader.end_position(path)
    if end is None:
        return None
    if position is None:
        if os.path.exists(f"{path}.1"):
            return None
        start = 0
    elif position.file_id != end.file_id:
        return None
    else:
        start = position.offset
    backlog = end.offset - start
    if backlog < min_bytes:
        return None
    try:
        if shutil.disk_usage(tempfile.gettempdir()).free < ROOM * len(encodings) * backlog:
            return None
    except OSError:
        return None
    cut = find_cut(path, start + int(backlog * SHARE))
    if cut is None or cut >= end.offset:
        return None
    return Plan(path, LogPosition(0, -1, end.file_id, cut), end.offset, encodings)


def read_split(p: Plan, reader: JsonFileReader, pipeline: LogPipeline, feed: Callable[[list[LogLine]], None],
               on_chunk: Callable[[Chunk], None], stopping: threading.Event, max_line_bytes: int,
               on_lost: Callable[[str], None]) -> HandBack | None:
    """Read ``p``'s backlog with a second process; where to read on with a fresh pipeline (None: go on as is).

    Args:
        p: the plan.
        reader: this process's reader, at its start; on None it is where this process read to.
        pipeline: the fresh pipeline ``feed`` feeds (the second reader starts from a copy).
        feed: this process's way to read lines (into ``pipeline``, its records delivered).
        on_chunk: takes the second reader's chunks, in order.
        stopping: set to stop now (the second reader is killed; what it gave is kept).
        max_line_bytes: as ``JsonFileReader``'s.
        on_lost: told of lines the second reader could not read.
    """
    if not _busy.acquire(blocking=False):
        return None
    try:
        with contextlib.ExitStack() as stack:
            try:
                outs = [stack.enter_context(tempfile.TemporaryFile(prefix="observe-backlog-")) for _ in p.encodings]
                notes = stack.enter_context(tempfile.TemporaryFile(prefix="observe-backlog-"))
                rfd, wfd = os.pipe()
                parent = os.getpid()
                pid = os.fork()
            except OSError as err:
                log.warning("a second reader of a backlog could not be started; this process reads it", extra={
                    "event": "BacklogSplitFailed", "path": p.path, "error": str(err)})
                return None
            if pid == 0:  # pragma: no cover - the child ends in os._exit, out of coverage's sight
                os.close(rfd)
                _child(p, pipeline, [f.fileno() for f in outs], notes.fileno(), parent, max_line_bytes)
            os.close(wfd)
            try:
                return _parent(p, reader, pipeline, feed, on_chunk, stopping, [f.fileno() for f in outs],
                               _Notes(notes.fileno(), rfd), on_lost)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(rfd)
    finally:
        _busy.release()


# -- the second reader ---------------------------------------------------------------------------
class _Out:
    """The second reader's output: records encoded into one file per encoding, and running totals."""
    def __init__(self, encodings: tuple[Encoding, ...], fds: list[int]) -> None:
        self.encodings = encodings
        self.fds = fds
        self.outs = [0] * len(fds)
        self.truncated = [0] * len(fds)
        self.count = 0
        self.position: LogPosition | None = None
        self.lines: Sums = {}
        self.nbytes: Sums = {}

    def emit(self, records: list[Record]) -> None:
        for i, encoding in enumerate(self.encodings):
            data, cut = encode(encoding, records)
            view = memoryview(data)
            while view:
                view = view[os.write(self.fds[i], view):]
            self.outs[i] += len(data)
            self.truncated[i] += len(cut)
        self.count += len(records)
        sum_records(records, self.lines, self.nbytes)
        for r in reversed(records):
            if r.position is not None:
                self.position = r.position
                break

    def mark(self, flags: dict[str, int], resume: LogPosition | None) -> Mark:
        return Mark(tuple(self.outs), tuple(self.truncated), self.count, self.position, dict(self.lines),
                    dict(self.nbytes), dict(flags), resume)


def _put(fd: int, kind: str, value: Any) -> None:
    data = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
    data = len(data).to_bytes(4, "big") + data
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def resume_after(held: Held, last: LogPosition) -> LogPosition | None:
    """Where a fresh pipeline re-reads from to hold what ``held`` says after ``last`` (None: cannot tell).

    Nothing held: after ``last``. Else from the first line of the oldest held group.
    """
    if held is None:
        return None
    if not held:
        return last
    offset = min(start[1][1] for start in held)
    return LogPosition(0, -1, last.file_id, offset)


def reread(reader: JsonFileReader, pipeline: LogPipeline, stop: int, held: Held, name: str) -> list[LogLine]:
    """Feed a fresh ``pipeline`` the lines up to ``stop`` (their other records are out already), dropping its records.

    It then holds what the second reader held (``held``): the groups still open there. Returns the
    lines read past ``stop``, for the caller to feed.
    """
    now = time.monotonic()
    feed = pipeline.feed
    while True:
        lines = reader.read()
        if not lines:
            rest: list[LogLine] = []
            break
        at = next((i for i, line in enumerate(lines) if _offset(line) > stop), len(lines))
        for line in lines[:at]:
            feed(line, now)
        if at < len(lines):
            rest = lines[at:]
            break
    if pipeline.held_starts() != held:
        log.warning("a backlog's second reader handed back in a different state", extra={
            "event": "BacklogSplitMismatch", "container": name})
    return rest


def _child(p: Plan, pipeline: LogPipeline, fds: list[int], notes: int, parent: int,
           max_line_bytes: int) -> None:  # pragma: no cover - runs in the forked child
    code = 1
    try:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, spare_cpus())
        lost: list[str] = []
        reader = JsonFileReader(p.path, p.child_at, on_lost=lost.append, max_line_bytes=max_line_bytes)
        _child_read(p, reader, pipeline, _Out(p.encodings, fds), notes, parent, lost)
        reader.close()
        _put(notes, "d", None)
        code = 0
    except BaseException as err:  # every failure ends the child, told to the parent in one line
        with contextlib.suppress(BaseException):
            if not isinstance(err, KeyboardInterrupt):
                _put(notes, "e", f"{type(err).__name__}: {err}"[:2000])
    finally:
        os._exit(code)


def _child_read(p: Plan, reader: JsonFileReader, pipeline: LogPipeline, out: _Out, notes: int, parent: int,
                lost: list[str]) -> None:
    """Read from the cut to ``p.end``; note the window, then chunks."""
    feed, held_starts, counters = pipeline.feed, pipeline.held_starts, pipeline.counters
    fid, end = p.child_at.file_id, p.end
    window: dict[int, tuple[Held, Mark]] = {}
    windowing = True
    last: LogPosition | None = None  # the last line fed
    marked = 0  # bytes of the first encoding at the last chunk

    def chunk(resume: LogPosition) -> None:
        nonlocal marked
        if lost:
            _put(notes, "l", lost[:])
            lost.clear()
        _put(notes, "m", (out.mark(counters, resume), last.offset if last else 0, held_starts()))
        marked = out.outs[0]

    while True:
        lines = reader.read()
        if not lines:
            break
        if os.getppid() != parent:
            return
        tail = lines[-1].position
        assert tail is not None  # the json-file reader places every line
        if not windowing and tail.offset < end and tail.file_id == fid and out.outs[0] - marked < OVERDUE:
            records: list[Record] = []
            for line in lines:
                records.extend(feed(line, 0.0))
            if records:
                out.emit(records)
            last = tail
            resume = resume_after(held_starts(), last)
            if resume is not None:
                chunk(resume)
            continue
        for line in lines:
            pos = line.position
            assert pos is not None
            if pos.file_id != fid:
                break
            got = feed(line, 0.0)
            if got:
                out.emit(got)
            last = pos
            if windowing:
                window[pos.offset] = (held_starts(), out.mark(counters, None))
                if len(window) >= WINDOW:
                    _put(notes, "w", window)
                    windowing = False
                continue
            if pos.offset >= end or out.outs[0] - marked >= OVERDUE:
                resume = resume_after(held_starts(), last)
                if resume is not None:
                    chunk(resume)
                    if pos.offset >= end:
                        return
        else:
            continue
        break  # a line of another file: the log rotated, and what follows is this process's to read
    if windowing:
        _put(notes, "w", window)


# -- this process --------------------------------------------------------------------------------
class _Notes:
    """The second reader's notes, read as it writes them; ``rfd`` reads at its end when it exits."""
    def __init__(self, fd: int, rfd: int) -> None:
        self.fd = fd
        self.rfd = rfd
        self.offset = 0
        self.ended = False

    def next(self, stopping: threading.Event) -> tuple[str, Any]:
        """The next note; ("e", why) when the second reader ended without one, ("s", None) on ``stopping``."""
        while True:
            head = os.pread(self.fd, 4, self.offset)
            if len(head) == 4:
                size = int.from_bytes(head, "big")
                body = os.pread(self.fd, size, self.offset + 4)
                if len(body) == size:
                    self.offset += 4 + size
                    kind, value = pickle.loads(body)
                    return str(kind), value
            if self.ended:
                return "e", "the second reader ended early"
            if stopping.is_set():
                return "s", None
            ready, _, _ = select.select([self.rfd], [], [], 0.05)
            if ready and not os.read(self.rfd, 1):
                self.ended = True  # read what it wrote before it ended, then say so


def _parent(p: Plan, reader: JsonFileReader, pipeline: LogPipeline, feed: Callable[[list[LogLine]], None],
            on_chunk: Callable[[Chunk], None], stopping: threading.Event, fds: list[int], notes: _Notes,
            on_lost: Callable[[str], None]) -> HandBack | None:
    cut = p.child_at.offset
    window: dict[int, tuple[Held, Mark]] | None = None
    while not stopping.is_set():
        lines = reader.read()
        if not lines:
            return None  # the log ended (was truncated) before the cut: read on as usual
        if _offset(lines[-1]) <= cut:
            feed(lines)
            continue
        first = 0
        while _offset(lines[first]) <= cut:
            first += 1
        if first:
            feed(lines[:first])
        if window is None:
            kind, value = notes.next(stopping)
            if kind != "w":
                _failed(kind, value)
                feed(lines[first:])
                return None
            window = value
        horizon = max(window, default=cut)
        for i in range(first, len(lines)):
            line = lines[i]
            feed([line])
            offset = _offset(line)
            note = window.get(offset)
            if note is not None and note[0] is not None and note[0] == pipeline.held_starts():
                return _take_over(note[1], lines[i + 1:], feed, on_chunk, stopping, p.encodings, fds, notes,
                                  on_lost)
            if offset >= horizon:
                feed(lines[i + 1:])
                log.debug("the second reader's lines never agreed with this one's", extra={
                    "event": "BacklogSplitUnused", "path": p.path})
                return None
    return None


def _take_over(base: Mark, spare: list[LogLine], feed: Callable[[list[LogLine]], None],
               on_chunk: Callable[[Chunk], None], stopping: threading.Event, encodings: tuple[Encoding, ...],
               fds: list[int], notes: _Notes, on_lost: Callable[[str], None]) -> HandBack | None:
    """Deliver the second reader's chunks from ``base``; where to read on (None: ``spare`` was read here)."""
    resume: LogPosition | None = None
    last: tuple[int, Held] = (0, None)
    chunks = 0
    while True:
        kind, value = notes.next(stopping)
        if kind == "l":
            for why in value:
                on_lost(why)
            continue
        if kind != "m":
            if kind != "d":
                _failed(kind, value)
            break
        mark, stop, held = value
        if mark.records > base.records:
            encoded = {encoding: (os.pread(fds[i], mark.outs[i] - base.outs[i], base.outs[i]),
                                  mark.truncated[i] - base.truncated[i]) for i, encoding in enumerate(encodings)}
            on_chunk(Chunk(encoded, mark.records - base.records, mark.position, _less(mark.lines, base.lines),
                           _less(mark.nbytes, base.nbytes), _less(mark.flags, base.flags)))
            chunks += 1
        base, resume, last = mark, mark.resume, (stop, held)
    log.info("a backlog was read by two processes", extra={
        "event": "BacklogSplitDone", "chunks": chunks, "records": base.records, "resume": resume})
    if resume is None:
        feed(spare)
        return None
    return resume, last[0], last[1]


def _failed(kind: str, value: Any) -> None:
    if kind == "e":  # not "s", a stop
        log.warning("the second reader of a backlog failed; this process reads it", extra={
            "event": "BacklogSplitFailed", "error": str(value)})


def _less(now: dict[Any, int], then: dict[Any, int]) -> dict[Any, int]:
    return {k: n - then.get(k, 0) for k, n in now.items() if n != then.get(k, 0)}


def _offset(line: LogLine) -> int:
    assert line.position is not None  # the json-file reader places every line
    return line.position.offset
