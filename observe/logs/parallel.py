"""A large json-file log read to its end by two processes, the output byte-identical to one's.

Reading a log once (``observe logs NAME`` without ``-f``) is CPU-bound on one core: parsing,
joining, merging, normalising and rendering are all Python. Here the file is cut at a whole,
well-formed line ``B`` near its middle. A forked child reads from ``B`` to the end through its
own ``LogPipeline`` and writes what ``emit`` renders into an unlinked temporary file; the parent
reads from the start. Past ``B`` the parent goes on line by line until its pipeline holds the
same thing as the child's did after the same raw line (``LogPipeline.held_starts``: no partial
line held, and each held group begun at the same raw line after ``B``). From that line on the
two pipelines are in the same state and see the same lines, so they give the same records: the
parent stops there and copies the child's output from the byte the child had written after that
line. The cut line itself never counts as a match (the child had nothing before it), and it is
well-formed, so a corrupt line after it gets the same time (the last good line's) in both.

When the two never agree within ``WINDOW`` lines past ``B`` (a trace longer than that), the
parent reads on to the end itself and the child's work is thrown away: slower, never different.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator

import orjson

from observe.errors import ObserveError
from observe.logs.jsonfile import JsonFileReader
from observe.logs.pipeline import LogPipeline
from observe.model import LogLine, LogPosition, Record

MIN_BYTES = 8 << 20
"""Smaller logs are read by one process: a fork and a temporary file cost more than they save."""
WINDOW = 2_000
"""Lines past the cut the child keeps a record of, for the parent to find where they agree."""

Emit = Callable[[list[Record]], None]
Held = tuple[tuple[str, tuple[str, int]], ...] | None
_Window = dict[int, tuple[Held, int]]


class ParallelReadFailed(ObserveError):
    """The second process could not read its half of the log."""


def usable(path: str, min_bytes: int = MIN_BYTES) -> bool:
    """True when ``path`` is worth reading by two processes: big enough, not rotated, two cores here.

    Also: the temporary directory has room for the second half's output (about the size of the
    log, with room to spare), so that the second reader does not fail part-way for want of space.
    """
    if not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2 or os.path.exists(f"{path}.1"):
        return False
    try:
        size = os.stat(path).st_size
        return size >= min_bytes and shutil.disk_usage(tempfile.gettempdir()).free > 2 * size
    except OSError:
        return False


def find_cut(path: str, near: int) -> int | None:
    """The offset of the first well-formed json-file line starting after ``near`` (None: none in 1 MiB)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.pread(fd, 1 << 20, near)
    finally:
        os.close(fd)
    start = data.find(b"\n") + 1
    while start:
        end = data.find(b"\n", start)
        if end < 0:
            return None
        try:
            doc = orjson.loads(data[start:end])
            if isinstance(doc, dict) and isinstance(doc.get("log"), str) and isinstance(doc.get("time"), str):
                return near + start
        except orjson.JSONDecodeError:
            pass
        start = end + 1
    return None


def read_parallel(path: str, pipeline: LogPipeline, emit: Emit, out_fd: int, *, max_line_bytes: int,
                  since_ns: int = 0, on_lost: Callable[[str], None] | None = None, cut: int | None = None) -> bool:
    """Read the log at ``path`` to its end with two processes; False (nothing read) when it cannot be cut.

    Args:
        path: a json-file log (check ``usable`` first).
        pipeline: a fresh pipeline for the container; the child uses its own copy.
        emit: takes each batch of records in order and has written them to ``out_fd`` when it returns.
        out_fd: the descriptor ``emit`` writes to; in the child it is pointed at a temporary file.
        max_line_bytes: as ``JsonFileReader``'s.
        since_ns: only lines at or after this time.
        on_lost: as ``JsonFileReader``'s.
        cut: where the child starts (None: the first well-formed line after the middle).

    Raises:
        ParallelReadFailed: the child failed (its error, one line).
    """
    if cut is None:
        cut = find_cut(path, os.stat(path).st_size // 2)
    if cut is None:
        return False
    start = JsonFileReader.end_position(path)
    if start is None:
        return False
    child_at = LogPosition(0, -1, start.file_id, cut)
    with tempfile.TemporaryFile(prefix="observe-logs-") as out, tempfile.TemporaryFile(prefix="observe-logs-") as notes:
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child ends in os._exit, out of coverage's sight
            os.close(rfd)
            _child(path, child_at, pipeline, emit, out_fd, out.fileno(), notes.fileno(), wfd, max_line_bytes,
                   since_ns, on_lost)
        os.close(wfd)
        try:
            _parent(path, cut, pipeline, emit, out_fd, out.fileno(), notes.fileno(), rfd, max_line_bytes, since_ns,
                    on_lost)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(rfd)
    return True


def _child(path: str, position: LogPosition, pipeline: LogPipeline, emit: Emit, out_fd: int, out: int, notes: int,
           wfd: int, max_line_bytes: int, since_ns: int, on_lost: Callable[[str], None] | None) -> None:
    """Read from the cut to the end; note (held, bytes written) after each of the first ``WINDOW`` lines."""
    code = 1
    try:
        os.dup2(out, out_fd)
        reader = JsonFileReader(path, position, on_lost=on_lost, max_line_bytes=max_line_bytes)
        window: _Window = {}
        feed = pipeline.feed
        noted = False
        for lines in _batches(reader, since_ns):
            if not noted:
                for i, line in enumerate(lines):
                    records = feed(line, 0.0)
                    if records:
                        emit(records)
                    window[_offset(line)] = (pipeline.held_starts(), os.lseek(out, 0, os.SEEK_CUR))
                    if len(window) >= WINDOW:
                        _emit_lines(lines[i + 1:], pipeline, emit)
                        _note(notes, wfd, window)
                        noted = True
                        break
                continue
            _emit_lines(lines, pipeline, emit)
        reader.close()
        records = pipeline.flush_all()
        if records:
            emit(records)
        if not noted:
            _note(notes, wfd, window)
        os.write(wfd, b"d")
        code = 0
    except BaseException as err:  # every failure ends the child, told to the parent in one line
        with contextlib.suppress(BaseException):
            if not isinstance(err, KeyboardInterrupt):
                os.write(wfd, b"e" + f"{type(err).__name__}: {err}".encode("utf-8", "replace")[:2000])
    finally:
        os._exit(code)


def _note(notes: int, wfd: int, window: _Window) -> None:
    os.pwrite(notes, pickle.dumps(window, protocol=pickle.HIGHEST_PROTOCOL), 0)
    os.write(wfd, b"w")


def _emit_lines(lines: list[LogLine], pipeline: LogPipeline, emit: Emit) -> None:
    feed = pipeline.feed
    records: list[Record] = []
    for line in lines:
        records.extend(feed(line, 0.0))
    if records:
        emit(records)


def _parent(path: str, cut: int, pipeline: LogPipeline, emit: Emit, out_fd: int, out: int, notes: int, rfd: int,
            max_line_bytes: int, since_ns: int, on_lost: Callable[[str], None] | None) -> None:
    """Read from the start until the child's notes agree, then copy the child's output from there.

    Without an agreement within what the child noted, read on to the end here.
    """
    reader = JsonFileReader(path, None, on_lost=on_lost, max_line_bytes=max_line_bytes)
    window: _Window | None = None
    messages = b""
    checking = True
    feed = pipeline.feed
    try:
        for lines in _batches(reader, since_ns):
            if not checking or not lines or _offset(lines[-1]) <= cut:
                _emit_lines(lines, pipeline, emit)
                continue
            first = 0
            while _offset(lines[first]) <= cut:
                first += 1
            _emit_lines(lines[:first], pipeline, emit)
            if window is None:
                window, messages = _window(notes, rfd)
            horizon = max(window, default=cut)  # the child's last noted line
            for i in range(first, len(lines)):
                line = lines[i]
                records = feed(line, 0.0)
                if records:
                    emit(records)
                offset = _offset(line)
                note = window.get(offset)
                if note is not None and note[0] is not None and note[0] == pipeline.held_starts():
                    _copy(out, note[1], out_fd, rfd, messages)
                    return
                if offset >= horizon:
                    checking = False
                    _emit_lines(lines[i + 1:], pipeline, emit)
                    break
        records = pipeline.flush_all()
        if records:
            emit(records)
    finally:
        reader.close()


def _batches(reader: JsonFileReader, since_ns: int) -> Iterator[list[LogLine]]:
    """What ``reader`` reads, batch by batch until its end, without the lines before ``since_ns``."""
    while True:
        lines = reader.read()
        if not lines:
            return
        yield [line for line in lines if line.time_ns >= since_ns] if since_ns else lines


def _offset(line: LogLine) -> int:
    assert line.position is not None  # the json-file reader places every line
    return line.position.offset


def _window(notes: int, rfd: int) -> tuple[_Window, bytes]:
    """Wait for the child's notes; an empty window when it ended without them."""
    got = b""
    while b"w" not in got:
        chunk = os.read(rfd, 4096)
        if not chunk:
            return {}, got
        got += chunk
    size = os.fstat(notes).st_size
    window: _Window = pickle.loads(os.pread(notes, size, 0))
    return window, got.replace(b"w", b"", 1)


def _copy(src: int, offset: int, out_fd: int, rfd: int, messages: bytes) -> None:
    """Copy the child's output from ``offset`` to ``out_fd`` as it grows, until the child says it is done."""
    done = messages.startswith(b"d")
    while True:
        size = os.fstat(src).st_size
        while offset < size:
            offset += _send(out_fd, src, offset, size - offset)
        if done:
            return
        ready, _, _ = select.select([rfd], [], [], 0.05)
        if ready:
            chunk = os.read(rfd, 4096)
            messages += chunk
            if messages.startswith(b"e"):
                while chunk:
                    chunk = os.read(rfd, 4096)
                    messages += chunk
                raise ParallelReadFailed(f"the second reader failed: {messages[1:].decode('utf-8', 'replace')}")
            if not chunk and not messages:
                raise ParallelReadFailed("the second reader ended early")
            done = messages.startswith(b"d")


def _send(out_fd: int, src: int, offset: int, count: int) -> int:
    try:
        sent = os.sendfile(out_fd, src, offset, min(count, 1 << 24))
    except OSError as err:
        if isinstance(err, BrokenPipeError) or err.errno not in (22, 38):  # EINVAL, ENOSYS: no sendfile here
            raise
        data = os.pread(src, min(count, 1 << 20), offset)
        sent = os.write(out_fd, data)
    if sent <= 0:
        raise OSError("no progress writing the output")
    return sent
