"""The ``stdout`` and ``file://`` sinks: NDJSON (or text) lines, written and flushed per batch.

The file sink rotates by size (``?max_size=100MB&keep=5``) and reopens its file on SIGHUP
(``reopen()``), so that logrotate's move-then-signal works.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from observe.errors import ConfigError
from observe.logs.formats import render_batch
from observe.logs.sinks.base import SinkClosed, SinkError, check_format, query_options, redact
from observe.model import Record
from observe.units import parse_size


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
        self._fh: BinaryIO | None = None
        self._size = 0
        self._open()

    def _open(self) -> None:
        try:
            self._fh = open(self.path, "ab")  # noqa: SIM115 - held open across batches
        except OSError as err:
            raise ConfigError(f"invalid value for --sink file://{self.path}: {err.strerror}") from None
        self._size = self._fh.tell()

    def reopen(self) -> None:
        """Close and reopen the path (after logrotate moved the file away)."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
            self._fh = None
            self._open()

    def _rotate(self) -> None:
        assert self._fh is not None
        self._fh.close()
        for n in range(self.keep - 1, 0, -1):
            src = f"{self.path}.{n}"
            if os.path.exists(src):
                os.replace(src, f"{self.path}.{n + 1}")
        if self.keep > 0:
            os.replace(self.path, f"{self.path}.1")
        else:
            os.unlink(self.path)
        self._fh = None
        self._open()

    def write(self, records: Sequence[Record]) -> None:
        data = render_batch([r.doc for r in records], self.fmt)
        with self._lock:
            try:
                if self._fh is None:
                    self._open()
                assert self._fh is not None
                if self.max_size and self._size and self._size + len(data) > self.max_size:
                    self._rotate()
                self._fh.write(data)
                self._fh.flush()
                self._size += len(data)
            except OSError as err:
                raise SinkError(f"cannot write to {self.path}: {err.strerror}") from None

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
