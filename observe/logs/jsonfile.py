"""The json-file fast path: read ``<id>-json.log`` directly, following Docker's rotation.

Docker's json-file driver rotates by renaming ``<id>-json.log`` to ``.1`` (shifting older
files up) and creating a new file. The reader keeps its file descriptor open across the
rename, so the lines written between its last read and the rename are still read from the
old inode; only when that file is at its end and the path names another inode does it move
on. Positions are (device:inode, byte offset), exact to the byte, which is what makes
checkpoints exact: on resume the reader finds the file with that inode among the current
and rotated files.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from observe.model import LogLine, LogPosition
from observe.timefmt import format_ns, parse_ns

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16
"""Bytes read at a time: about 200 lines, whose objects stay in the CPU's cache from the read to the
record (read, pipeline and rendering in one process cost a quarter more CPU per line on the corpus
with 1 MiB reads). A longer line is read in doubling steps."""
TAIL_BLOCK = 1 << 16  # bytes read at a time backwards from the end, for a tail
_SCALE = tuple(10 ** (9 - n) for n in range(10))  # fraction digits -> ns


def inode_key(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}"


def _fingerprint(fd: int) -> str:
    """The time of a file's first line: tells a file from a later one that reuses its inode."""
    head = os.pread(fd, 4096, 0)
    end = head.find(b"\n")
    if end < 0:
        return ""
    try:
        return str(parse_ns(orjson.loads(head[:end])["time"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return f"crc{zlib.crc32(head[:end]):08x}"


def _window(after_ns: int, next_file: _Open | None) -> str:
    """``between <time read last> and <first time still on disk>``: what an operator can look for."""
    start = format_ns(after_ns) if after_ns else "the start"
    first = next_file.fid.rpartition(":")[2] if next_file else ""
    end = format_ns(int(first)) if first.isdigit() else "the oldest line still on disk"
    return f"between {start} and {end}"


def _before_last_lines(fd: int, size: int, lines: int, block: int) -> tuple[int | None, int]:
    """(offset where the last ``lines`` complete lines of a file begin, None if it has fewer; its line count then).

    A last line without its newline yet (being written) is not counted: it is read when complete.
    """
    need = lines + 1  # the newline before the first wanted line (or the start of the file)
    seen = 0
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        count = chunk.count(b"\n")
        if seen + count >= need:
            at = len(chunk)
            for _ in range(need - seen):
                at = chunk.rfind(b"\n", 0, at)
            return start + at + 1, 0
        seen += count
        end = start
    return (0, seen) if seen == lines else (None, seen)


@dataclass(slots=True)
class _Open:
    fd: int
    inode: str
    path: str
    offset: int
    fingerprint: str = ""

    @property
    def fid(self) -> str:
        """``device:inode:first-line-time``: the identity a position stores."""
        if not self.fingerprint:
            self.fingerprint = _fingerprint(self.fd)
        return f"{self.inode}:{self.fingerprint}"

    def same_file(self, fid: str) -> bool:
        inode, _, fingerprint = fid.rpartition(":")
        if inode != self.inode:
            return False
        return not fingerprint or self.fid == fid


class JsonFileReader:
    """Reads LogLines from a container's json-file log, from a position onwards.

    Args:
        path: the container's ``LogPath`` (the current ``-json.log``).
        position: where to resume (None: from the oldest line still on disk).
        on_lost: called with a description when lines could not be read (rotated away
            while we were behind, or the file truncated under us); the count is unknown
            to the byte, so the caller logs it as a warning and counts an event.
        max_line_bytes: a json-file line longer than this (a corrupt file with no
            newlines) is cut there rather than buffered without bound.
    """

    def __init__(
        self,
        path: str,
        position: LogPosition | None = None,
        on_lost: Callable[[str], None] | None = None,
        max_line_bytes: int = 4 << 20,
    ) -> None:
        self.path = path
        self.on_lost = on_lost or (lambda why: log.warning(why, extra={"event": "LogLinesLost", "path": path}))
        self.max_line_bytes = max_line_bytes
        self.opened = False  # some log file was opened (an unlinked one can still be read to its end)
        self._cur: _Open | None = None
        self._pending: list[_Open] = []  # files opened but not yet read, oldest first
        self._buf = b""
        self._last_ns = position.time_ns if position else 0
        self._seq = position.seq if position else -1
        self._seconds: dict[str, int] = {}  # 'YYYY-MM-DDTHH:MM:SS' -> ns of that second
        self._open_at(position)

    # -- opening -----------------------------------------------------------------------
    def _rotated(self) -> list[str]:
        """Rotated files on disk, oldest first (``.N`` ... ``.1``); compressed ones are skipped."""
        found = []
        n = 1
        while os.path.exists(f"{self.path}.{n}"):
            found.append(f"{self.path}.{n}")
            n += 1
        return list(reversed(found))

    @staticmethod
    def _open(path: str, offset: int = 0) -> _Open | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        return _Open(fd, inode_key(os.fstat(fd)), path, offset)

    def _open_chain(self, paths: list[str], skip: set[str]) -> list[_Open]:
        """Open files at once, so that renames by a later rotation cannot shift them under us."""
        opened: list[_Open] = []
        seen = set(skip)
        for path in paths:
            handle = self._open(path)
            if handle is None or handle.inode in seen:
                if handle is not None:
                    os.close(handle.fd)
                continue
            seen.add(handle.inode)
            opened.append(handle)
        return opened

    def _use(self, handle: _Open) -> None:
        self.opened = True
        size = os.fstat(handle.fd).st_size
        if handle.offset > size:
            self.on_lost(f"{handle.path} is shorter than the saved offset {handle.offset}; reading it from the start")
            handle.offset = 0
        self._cur = handle
        self._buf = b""

    def _open_at(self, position: LogPosition | None) -> None:
        chain = self._open_chain([*self._rotated(), self.path], set())
        start = 0
        if position is not None and position.file_id:
            match = [i for i, h in enumerate(chain) if h.same_file(position.file_id)]
            if match:
                start = match[0]
                chain[start].offset = position.offset
            else:
                self.on_lost(
                    f"the file at the saved position of {self.path} was rotated away; lines written "
                    f"{_window(position.time_ns, chain[0] if chain else None)} are lost"
                )
        for handle in chain[:start]:
            os.close(handle.fd)
        if chain[start:]:
            self._use(chain[start])
            self._pending = chain[start + 1:]

    def _advance_file(self) -> bool:
        """At the end of the current file: move on when rotation gave us a newer one.

        Returns True when there is something new to read from.
        """
        cur = self._cur
        if self._pending:
            if cur is not None:
                os.close(cur.fd)
            self._use(self._pending.pop(0))
            return True
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # container removed, or between rename and create: try later
        if cur is None:
            chain = self._open_chain([self.path], set())
            if chain:
                self._use(chain[0])
                return True
            return False
        if inode_key(st) != cur.inode:
            if os.fstat(cur.fd).st_size > cur.offset + len(self._buf):
                # Lines came to the old file between our read at its end and the rename: read them first.
                return True
            # Rotated: our fd still reads the old inode, which we finished. Files rotated
            # since ours (several rotations between two reads) come before the new one.
            rotated = self._rotated()
            chain = self._open_chain([*rotated, self.path], set())
            ours = [i for i, h in enumerate(chain) if h.inode == cur.inode]
            if ours:
                for handle in chain[: ours[0] + 1]:
                    os.close(handle.fd)
                chain = chain[ours[0] + 1:]
            else:
                # Our file was deleted by the rotation, so files between it and the oldest
                # one left may have come and gone unread.
                self.on_lost(
                    f"{self.path} rotated faster than it was read (max-file too small for the rate); lines "
                    f"written {_window(self._last_ns, chain[0] if chain else None)} may be lost"
                )
            os.close(cur.fd)
            self._cur = None
            if not chain:
                return False
            self._use(chain[0])
            self._pending = chain[1:]
            return True
        if st.st_size < cur.offset:
            self.on_lost(f"{self.path} was truncated under the reader (max-file=1?); lines may be lost")
            cur.offset = 0
            self._buf = b""
            return True
        return False

    @staticmethod
    def end_position(path: str) -> LogPosition | None:
        """The position at the current end of a log (to read only what comes next)."""
        handle = JsonFileReader._open(path)
        if handle is None:
            return None
        try:
            return LogPosition(0, -1, handle.fid, os.fstat(handle.fd).st_size)
        finally:
            os.close(handle.fd)

    @staticmethod
    def tail_position(path: str, lines: int) -> LogPosition | None:
        """The position just before the last ``lines`` lines of a log (its rotated files included).

        What ``docker logs --tail`` shows, found by reading backwards from the end a block at a
        time, never the whole log. None when the log has no more lines than that (read it all)
        or is not there.
        """
        wanted = max(0, lines)
        name, n = path, 0
        while True:
            handle = JsonFileReader._open(name)
            if handle is None:
                return None
            try:
                offset, found = _before_last_lines(handle.fd, os.fstat(handle.fd).st_size, wanted, TAIL_BLOCK)
                if offset is not None:
                    return LogPosition(0, -1, handle.fid, offset)
            finally:
                os.close(handle.fd)
            wanted -= found
            n += 1
            name = f"{path}.{n}"

    # -- reading -----------------------------------------------------------------------
    def read(self, max_bytes: int = READ_SIZE) -> list[LogLine]:
        """Whatever complete lines are on disk now (possibly none). Never blocks."""
        out: list[LogLine] = []
        while len(out) == 0:
            cur = self._cur
            if cur is None:
                if not self._advance_file():
                    return out
                continue
            chunk = os.pread(cur.fd, max(max_bytes, len(self._buf)), cur.offset + len(self._buf))
            if not chunk:
                if self._buf and len(self._buf) >= self.max_line_bytes:
                    chunk = b"\n"  # cut an endless line
                elif not self._advance_file():
                    return out
                else:
                    continue
            self._parse(self._buf + chunk, out)
            if len(out) == 0 and not chunk:
                return out
        return out

    def _parse(self, data: bytes, out: list[LogLine]) -> None:
        cur = self._cur
        assert cur is not None
        end = data.rfind(b"\n")
        if end < 0:
            self._buf = data
            if len(data) >= self.max_line_bytes:
                end = len(data) - 1
                data = data + b"\n"
            else:
                return
        complete, self._buf = data[: end + 1], data[end + 1:]
        offset = cur.offset
        fid = cur.fid
        last_ns, seq = self._last_ns, self._seq
        loads = orjson.loads
        append = out.append
        new = tuple.__new__
        seconds = self._seconds
        if len(seconds) > 4096:
            seconds.clear()
        for raw in complete.split(b"\n")[:-1]:
            offset += len(raw) + 1
            if not raw:
                continue
            try:
                doc = loads(raw)
                text = doc["log"]
                stream = doc.get("stream", "stdout")
                stamp = doc["time"]
                # dockerd writes RFC3339Nano in UTC: the second's prefix is cached, the fraction added.
                frac = stamp[20:-1]
                base = seconds.get(stamp[:19]) if stamp[19:20] == "." and stamp[-1:] == "Z" else None
                if base is not None and frac.isdigit() and len(frac) <= 9:
                    time_ns = base + int(frac) * _SCALE[len(frac)]
                else:
                    time_ns = parse_ns(stamp)
                    if stamp[19:20] == "." and stamp[-1:] == "Z":
                        seconds[stamp[:19]] = time_ns - time_ns % 1_000_000_000
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                # A corrupt line (torn write, disk trouble): keep its bytes as a line of text.
                text = raw.decode("utf-8", "replace")
                stream, time_ns = "stdout", last_ns
                append(LogLine(time_ns, stream, text, False, True, LogPosition(time_ns, seq + 1, fid, offset)))
                seq += 1
                continue
            if time_ns == last_ns:
                seq += 1
            else:
                last_ns, seq = time_ns, 0
            # ``tuple.__new__`` builds the NamedTuples without their Python-level ``__new__`` (a third of the cost).
            at = new(LogPosition, (time_ns, seq, fid, offset))
            if text[-1:] == "\n":
                append(new(LogLine, (time_ns, stream, text[:-1], False, "\ufffd" in text, at)))
            else:
                append(new(LogLine, (time_ns, stream, text, True, "\ufffd" in text, at)))
        cur.offset = offset
        self._last_ns, self._seq = last_ns, seq

    @property
    def position(self) -> LogPosition | None:
        cur = self._cur
        if cur is None:
            return None
        return LogPosition(self._last_ns, self._seq, cur.fid, cur.offset)

    def close(self) -> None:
        for handle in [self._cur, *self._pending]:
            if handle is not None:
                os.close(handle.fd)
        self._cur = None
        self._pending = []
