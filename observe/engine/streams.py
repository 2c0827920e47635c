"""Engine streams that can be closed from any thread: decoded event/stats streams, log frames, exec sockets.

docker-py's streaming responses keep their socket referenced, so each of these releases its
connection at once on ``close()`` instead of leaving the descriptor to the garbage collector.

A streaming response's connection is dedicated to it (``dedicate``) and never goes back to
the client's connection pool: a reader that hits the end of a stream would otherwise return
the connection to the pool while ``release`` closes its socket, and the next request would
take a connection whose descriptor is -1.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from docker.types import CancellableStream

from observe.engine.address import unavailable
from observe.errors import ObserveError

if TYPE_CHECKING:
    from observe.engine.client import Engine


def _response_socket(response: Any) -> socket.socket | None:
    """The socket under a streaming response (None when it has none, or is already closed)."""
    try:
        sock = response.raw._fp.fp.raw._sock
    except AttributeError:
        return None
    return sock if isinstance(sock, socket.socket) else None


def dedicate(response: Any) -> Any:
    """Keep a streaming response's connection out of the connection pool for good; returns ``response``.

    urllib3 puts a response's connection back into its pool when a read reaches the end of
    the body (in the reader's thread) or when the response is closed. For a stream that is
    closed from another thread, that races with ``release`` closing the socket: the pool then
    holds a connection whose socket has no descriptor, and the next request fails with
    ``ValueError: file descriptor cannot be a negative integer``. Without its pool, the
    response closes its connection instead of returning it; the pool opens a fresh one.
    """
    raw = getattr(response, "raw", None)
    if raw is not None and hasattr(raw, "_pool"):
        raw._pool = None
    # Reading an error body to its end lets go of the socket before ``release`` could find it: keep it here.
    with contextlib.suppress(AttributeError, TypeError):
        response._observe_socket = _response_socket(response)
    return response


def release(response: Any) -> None:
    """Close a streaming response for good, from any thread, now rather than at garbage collection.

    The response's reader holds a reference to its socket, so ``close()`` alone may only mark
    the socket closed and leave the descriptor to the garbage collector (a ResourceWarning, and
    a descriptor held meanwhile). Shutting down first wakes a reader blocked in another thread.
    """
    sock = _response_socket(response) or getattr(response, "_observe_socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):  # a broken connection may raise anything on close
        response.close()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
        if sock.fileno() != -1:
            with contextlib.suppress(OSError):
                os.close(sock.detach())


class Stream(CancellableStream):  # type: ignore[misc]  # docker-py is untyped
    """A decoded engine stream whose ``close()`` (from any thread) also releases its connection.

    Once closed, the stream simply ends for its reader: whatever the half-read response raises
    under a reader in another thread (a chunk size of b"", a reader gone to None) is the close.
    """

    closed = False

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except StopIteration:
            raise
        except Exception:
            if self.closed:
                raise StopIteration from None
            raise

    def close(self) -> None:
        self.closed = True
        release(self._response)


def frame_header(header: bytes) -> tuple[str, int]:
    """The engine's multiplexed-stream frame header (stream type, 0, 0, 0, big-endian size): (stream, size)."""
    return ("stderr" if header[0] == 2 else "stdout"), int.from_bytes(header[4:8], "big")


class StreamStalled(ObserveError):
    """No data arrived on a stream within its read timeout."""


class LogStream:
    """Frames of a logs response: ``(stream name, payload bytes)``; ``close()`` from any thread ends it.

    Non-TTY containers send multiplexed frames (8-byte header: stream type, size); TTY
    containers send a raw stream, all of it stdout. The payload is not line-aligned.
    """

    def __init__(self, engine: Engine, response: Any, read_timeout: float | None, tty: bool) -> None:
        self.engine = engine
        self.response = response
        self.tty = tty
        self.closed = False
        if read_timeout is not None:
            try:
                sock = engine.api._get_raw_response_socket(response)
                getattr(sock, "_sock", sock).settimeout(read_timeout)
            except (AttributeError, OSError):
                pass

    def _read(self, n: int, some: bool = False) -> bytes:
        """``n`` bytes (fewer only at the end); with ``some``, whatever up to ``n`` has arrived.

        A raw (TTY) stream must not wait for a full buffer: a follow stream sends a few bytes and
        then nothing until the container writes again.
        """
        raw = self.response.raw
        try:
            if some and hasattr(raw, "read1"):
                return bytes(raw.read1(n))
            return bytes(raw.read(n))
        except Exception as err:  # urllib3/socket errors of many kinds; sort them out here
            if self.closed:
                return b""
            text = f"{type(err).__name__} {err}".lower()
            if "timed out" in text or "timeout" in text:
                raise StreamStalled("no log data within the read timeout") from None
            raise unavailable(self.engine.address, err) from None

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        if self.tty:
            while True:
                chunk = self._read(32768, some=True)
                if not chunk:
                    return
                yield "stdout", chunk
        while True:
            header = self._read(8)
            if len(header) < 8:
                return
            kind, size = frame_header(header)
            if not size:
                continue
            payload = self._read(size)
            while len(payload) < size:
                more = self._read(size - len(payload))
                if not more:
                    return
                payload += more
            yield kind, payload

    def close(self) -> None:
        self.closed = True
        release(self.response)


class ExecSocket:
    """The raw, bidirectional stream of an exec started with a TTY: what the user types in, what the terminal shows out.

    ``fileno()`` suits ``select``; ``recv`` returns b"" once the command has exited.
    """

    def __init__(self, engine: Engine, exec_id: str, sock: Any, response: Any = None) -> None:
        self.engine = engine
        self.exec_id = exec_id
        self._io = sock
        self._sock = getattr(sock, "_sock", sock)
        self._response = response

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def send(self, data: bytes) -> None:
        """Write what the user typed. Raises EngineUnavailable when the connection broke."""
        try:
            self._sock.sendall(data)
        except OSError as err:
            raise unavailable(self.engine.address, err) from None

    def recv(self, size: int = 65536) -> bytes:
        """Read what the command wrote; b"" at its end (or when the connection broke)."""
        try:
            return bytes(self._sock.recv(size))
        except OSError:
            return b""

    def resize(self, rows: int, columns: int) -> None:
        """Tell the engine the terminal's size (the shell redraws for it)."""
        self.engine.call(lambda: self.engine.api.exec_resize(self.exec_id, height=rows, width=columns))

    def exit_code(self) -> int | None:
        """The command's exit code; None while it still runs."""
        code = self.engine.call(lambda: self.engine.api.exec_inspect(self.exec_id)).get("ExitCode")
        return None if code is None else int(code)

    def close(self) -> None:
        for part in (self._response, self._io, self._sock):
            if part is not None:
                with contextlib.suppress(OSError, ValueError):  # closing twice, or a broken connection
                    part.close()
        # A reader that docker-py's response made still holds the socket, so close() above may only
        # have marked it closed; release the descriptor now rather than at garbage collection.
        if hasattr(self._sock, "detach") and self._sock.fileno() != -1:
            with contextlib.suppress(OSError):
                os.close(self._sock.detach())
