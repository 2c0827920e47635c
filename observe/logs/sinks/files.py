"""The ``stdout`` and ``file://`` sinks: NDJSON (or text) lines, written and flushed per batch.

The file sink rotates by size (``?max_size=100MB&keep=5``) and reopens its file on SIGHUP
(``reopen()``), so that logrotate's move-then-signal works.

A write is whole lines or nothing. A writer killed in the middle of a batch (SIGKILL, the
OOM killer, a power cut) leaves a torn last line; its records were never acknowledged, so the
checkpoint sends them again. The next write, by this process or by another worker process on
the same file, first cuts the torn tail back to the last newline, under an exclusive ``flock``
that every writer holds while it writes (a live writer's half-written batch is never taken
for a torn one). A failed write (a full disk) is cut back to where it began before the batch
is retried. A FIFO, a device, a file we may not read or a filesystem without locks is only
appended to.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import sys
import threading
from collections.abc import Sequence
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from observe.errors import ConfigError
from observe.logs.formats import render_batch
from observe.logs.sinks.base import Encoding, SinkClosed, SinkError, check_format, query_options, redact
from observe.model import Record
from observe.units import parse_size

log = logging.getLogger(__name__)

TAIL_STEP = 1 << 16


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class StdoutSink:
    """NDJSON lines on standard output (or the text format for people)."""

    def __init__(self, url: str, default_format: str, stream: BinaryIO | None = None) -> None:
        opts = query_options(url) if "?" in url else {}
        self.fmt = check_format(url, opts.get("format", default_format))
        self.name = "stdout"
        self.url = "stdout"
        self._out = stream or sys.stdout.buffer
        self._color = self.fmt == "text" and sys.stdout.isatty() and stream is None

    def write(self, records: Sequence[Record]) -> None:
        if self.fmt == "text" and self._color:
            from observe.logs.formats import render

            data = b"".join(render(r.doc, "text", color=True) + b"\n" for r in records)
        else:
            data = render_batch([r.doc for r in records], self.fmt)
        try:
            self._out.write(data)
            self._out.flush()
        except BrokenPipeError:
            raise SinkClosed("stdout was closed by its reader") from None
        except OSError as err:
            raise SinkError(f"cannot write to stdout: {err.strerror}") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._out.flush()


class FileSink:
    """Appends NDJSON lines to a file, rotating by size and reopening on request.

    URL: ``file:///var/log/observe/out.ndjson?max_size=100MB&keep=5&format=json``
    (``max_size`` 0 means never rotate; ``keep`` rotated files ``.1`` .. ``.N``).
    """

    def __init__(self, url: str, default_format: str) -> None:
        parts = urlsplit(url)
        path = unquote(parts.path)
        if not path or parts.netloc not in ("", "localhost"):
            raise ConfigError(f"invalid value for --sink {redact(url)}: use file:///absolute/path")
        opts = query_options(url)
        self.fmt = check_format(url, opts.get("format", default_format))
        self.encoding = Encoding(self.fmt)
        try:
            self.max_size = parse_size(opts.get("max_size", "0"))
            self.keep = int(opts.get("keep", "5"))
        except ValueError as err:
            raise ConfigError(f"invalid value for --sink {redact(url)}: {err}") from None
        self.path = path
        self.name = f"file:{path}"
        self.url = redact(url)
        self._lock = threading.Lock()
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            raise ConfigError(f"invalid value for --sink {redact(url)}: directory {directory} does not exist")
        self._fd: int | None = None
        self._size = 0
        self._whole = True  # writes are whole lines or nothing (a regular file we may read and lock)
        self._open()

    def _open(self) -> None:
        flags = os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            try:
                self._fd = os.open(self.path, os.O_RDWR | flags, 0o644)
            except PermissionError:  # a file we may only write to: appended to, never repaired
                self._fd = os.open(self.path, os.O_WRONLY | flags, 0o644)
                self._whole = False
        except OSError as err:
            raise ConfigError(f"invalid value for --sink file://{self.path}: {err.strerror}") from None
        info = os.fstat(self._fd)
        self._size = info.st_size
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device: nothing to cut or lock
            self._whole = False

    def reopen(self) -> None:
        """Close and reopen the path (after logrotate moved the file away)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None
            self._open()

    def _rotate(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        for n in range(self.keep - 1, 0, -1):
            src = f"{self.path}.{n}"
            if os.path.exists(src):
                os.replace(src, f"{self.path}.{n + 1}")
        if self.keep > 0:
            os.replace(self.path, f"{self.path}.1")
        else:
            os.unlink(self.path)
        self._open()

    def _cut_torn_tail(self, fd: int, size: int) -> int:
        """The file's size once a last line without its newline (a dead writer's) is cut off."""
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return size
        end = size
        while end > 0:
            start = max(0, end - TAIL_STEP)
            chunk = os.pread(fd, end - start, start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                end = start + nl + 1
                break
            end = start
        head = os.pread(fd, 80, end)  # what is cut, for the operator's log: its first bytes
        os.ftruncate(fd, end)
        log.warning("cut a torn last line of %d bytes from %s: a writer stopped in the middle of it; "
                    "its records are sent again from the checkpoint", size - end, self.path,
                    extra={"event": "SinkTornLineCut", "sink": self.name, "bytes": size - end,
                           "head": head.decode("utf-8", "replace")})
        return end

    def _append(self, fd: int, data: bytes) -> int:
        """Appends whole lines under the writers' lock; the file's size after them."""
        if not self._whole or not self._lock_file(fd):
            _write_all(fd, data)
            return self._size + len(data)
        try:
            start = self._cut_torn_tail(fd, os.fstat(fd).st_size)
            try:
                _write_all(fd, data)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)  # whole lines or nothing: the batch is retried
                raise
            return start + len(data)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _lock_file(self, fd: int) -> bool:
        """Take the writers' lock; False (and never again) where the filesystem has no locks."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as err:
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
            self._whole = False
            log.warning("%s cannot be locked (%s): lines are appended without the torn-line repair",
                        self.path, err.strerror, extra={"event": "SinkFileUnlocked", "sink": self.name})
            return False
        return True

    def write(self, records: Sequence[Record]) -> None:
        self.write_encoded(render_batch([r.doc for r in records], self.fmt), len(records), 0)

    def write_encoded(self, data: bytes, records: int, truncated: int) -> None:
        with self._lock:
            try:
                if self._fd is None:
                    self._open()
                assert self._fd is not None
                if self.max_size and self._size and self._size + len(data) > self.max_size:
                    self._rotate()
                    assert self._fd is not None
                self._size = self._append(self._fd, data)
            except OSError as err:
                raise SinkError(f"cannot write to {self.path}: {err.strerror}") from None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
