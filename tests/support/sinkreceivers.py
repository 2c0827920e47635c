"""Receivers the sink tests run: JSON lines, syslog (both RFC 6587 framings), Fluentd's forward protocol.

All listen on 127.0.0.1 (port 0 picks one), take any number of connections, each on its own
thread, and can be stopped and started again on the same port. ``stop()`` is the graceful
close a real receiver does: stop listening, half-close every connection, read what the
sender still had in flight until it closes too (so nothing the sender's TCP saw acknowledged
is thrown away), then close. ``kill()`` is a crash: every connection reset, unread data lost.
Like Fluent Bit, the line and syslog receivers drop a connection that sends a message longer
than ``max_message`` (counted in ``oversize``) or, for syslog, a frame it cannot parse
(``bad_frames``).
"""

from __future__ import annotations

import abc
import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack


class _Server(abc.ABC):
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.connections = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._running = threading.Event()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._running.set()
        thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self, listener: socket.socket) -> None:
        while self._running.is_set():
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                conn, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        try:
            while True:
                try:
                    data = conn.recv(1 << 16)
                except TimeoutError:
                    if not self._running.is_set() and conn.fileno() < 0:
                        return
                    continue
                except OSError:
                    return
                if not data or not self.received(conn, data):
                    with contextlib.suppress(OSError):
                        conn.close()
                    return
        finally:
            self.ended(conn)

    @abc.abstractmethod
    def received(self, conn: socket.socket, data: bytes) -> bool | None:
        """Handle bytes read from one connection (each receiver decodes its own protocol); False drops it."""

    @abc.abstractmethod
    def ended(self, conn: socket.socket) -> None:
        """A connection ended: forget what was half-received on it."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening; half-close every connection and read it to its end; close."""
        self._running.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self.lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        for conn in conns:
            conn.close()
        self._threads = []

    def kill(self) -> None:
        """Close everything at once, unread data and all (a receiver that crashed)."""
        self._running.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self.lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []


class LineServer(_Server):
    """Collects newline-terminated lines (bytes, without the newline) in arrival order.

    ``max_message`` (0: none) drops a connection whose line, newline included, is longer.
    """

    def __init__(self, port: int = 0, max_message: int = 0) -> None:
        super().__init__(port)
        self.lines: list[bytes] = []
        self.raw = bytearray()  # everything received, for framings without newlines
        self.max_message = max_message
        self.oversize = 0
        self._partial: dict[int, bytes] = {}

    def received(self, conn: socket.socket, data: bytes) -> bool:
        key = id(conn)
        with self.lock:
            self.raw += data
        buf = self._partial.get(key, b"") + data
        *complete, rest = buf.split(b"\n")
        limit = self.max_message
        if limit and (len(rest) >= limit or any(len(line) >= limit for line in complete)):
            with self.lock:
                self.oversize += 1
            return False
        self._partial[key] = rest
        if complete:
            with self.lock:
                self.lines.extend(complete)
        return True

    def ended(self, conn: socket.socket) -> None:
        self._partial.pop(id(conn), None)

    def count(self) -> int:
        with self.lock:
            return len(self.lines)


class SyslogServer(_Server):
    """Collects syslog messages framed by octet counting or by newlines (RFC 6587), strictly.

    ``messages`` are the frames' contents (``<PRI>1 ...``). With ``octet-counting`` a frame that
    does not start with a length, and with ``newline`` one that starts with a digit (an octet
    count sent to a newline receiver), is a framing error: the connection is dropped.
    """

    def __init__(self, framing: str, port: int = 0, max_message: int = 0) -> None:
        super().__init__(port)
        self.framing = framing
        self.max_message = max_message
        self.messages: list[bytes] = []
        self.oversize = self.bad_frames = 0
        self._partial: dict[int, bytes] = {}

    def received(self, conn: socket.socket, data: bytes) -> bool:
        buf = self._partial.get(id(conn), b"") + data
        out: list[bytes] = []
        ok = True
        while buf:
            if self.framing == "newline":
                if not buf.startswith(b"<"):
                    self.bad_frames += 1
                    ok = False
                    break
                end = buf.find(b"\n")
                if end < 0:
                    ok = not (self.max_message and len(buf) >= self.max_message)
                    self.oversize += not ok
                    break
                message, buf = buf[:end], buf[end + 1:]
            else:
                space = buf.find(b" ")
                if space < 0:
                    break
                if not buf[:space].isdigit():
                    self.bad_frames += 1
                    ok = False
                    break
                size = int(buf[:space])
                if self.max_message and size > self.max_message:
                    self.oversize += 1
                    ok = False
                    break
                if len(buf) < space + 1 + size:
                    break
                message, buf = buf[space + 1:space + 1 + size], buf[space + 1 + size:]
            if self.max_message and len(message) > self.max_message:
                self.oversize += 1
                ok = False
                break
            out.append(message)
        self._partial[id(conn)] = buf
        with self.lock:
            self.messages.extend(out)
        return ok

    def ended(self, conn: socket.socket) -> None:
        self._partial.pop(id(conn), None)

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


def _ext(code: int, data: bytes) -> Any:
    if code == 0:
        sec, nsec = struct.unpack(">II", data)
        return ("EventTime", sec * 1_000_000_000 + nsec)
    return msgpack.ExtType(code, data)


class FluentServer(_Server):
    """Decodes the Forward protocol (Message, Forward, PackedForward modes) and acknowledges chunks.

    ``events`` holds (tag, time, record) with ``time`` as ``("EventTime", ns)`` or an int;
    ``chunks`` the (chunk id, size) of every message received, in order. ``withhold(chunk_id)``
    returning True leaves that chunk unacknowledged (and its events are still recorded).
    """

    def __init__(self, port: int = 0, withhold: Callable[[str], bool] | None = None) -> None:
        super().__init__(port)
        self.events: list[tuple[str, Any, dict[str, Any]]] = []
        self.chunks: list[tuple[str | None, int]] = []
        self.withhold = withhold or (lambda chunk: False)
        self._unpackers: dict[int, msgpack.Unpacker] = {}

    def received(self, conn: socket.socket, data: bytes) -> bool:
        unpacker = self._unpackers.setdefault(id(conn), msgpack.Unpacker(raw=False, ext_hook=_ext))
        unpacker.feed(data)
        for msg in unpacker:
            self._message(conn, msg)
        return True

    def ended(self, conn: socket.socket) -> None:
        self._unpackers.pop(id(conn), None)

    def _message(self, conn: socket.socket, msg: list[Any]) -> None:
        tag, second = msg[0], msg[1]
        option: dict[str, Any] = {}
        events: list[tuple[Any, dict[str, Any]]] = []
        if isinstance(second, bytes):  # PackedForward
            entries = msgpack.Unpacker(raw=False, ext_hook=_ext)
            entries.feed(second)
            events = [(t, r) for t, r in entries]
            option = msg[2] if len(msg) > 2 else {}
        elif isinstance(second, list):  # Forward
            events = [(t, r) for t, r in second]
            option = msg[2] if len(msg) > 2 else {}
        else:  # Message
            events = [(second, msg[2])]
            option = msg[3] if len(msg) > 3 else {}
        chunk = option.get("chunk")
        with self.lock:
            self.events.extend((tag, t, r) for t, r in events)
            self.chunks.append((chunk, len(events)))
        if chunk is not None and not self.withhold(chunk):
            with contextlib.suppress(OSError):
                conn.sendall(msgpack.packb({"ack": chunk}))

    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for _, _, r in self.events]
