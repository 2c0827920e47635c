"""What the network sinks share: addresses, TLS, one persistent connection, and replay of unconfirmed bytes.

A TCP write returns once the bytes are in the kernel; the peer may still lose them (it closes,
it resets). Stream sinks without an application acknowledgement (``tcp``, ``syslog``)
therefore keep what they wrote until the peer's TCP acknowledged it (the socket's
unacknowledged byte count, ``SIOCOUTQ``) and it settled (``StreamSink``); only confirmed
batches release their positions to the checkpoints, so a stop while the receiver is down
saves nothing past them and the next start reads them again. On a new connection the
unconfirmed bytes go first and count in ``resent``.

A dead peer is found before each write and, between writes, each time the delivery loop asks
``confirmed()`` (a few times a second when idle): a readable socket that reads empty was
closed by the peer, one that fails was reset. Keepalive and ``TCP_USER_TIMEOUT`` catch peers
that vanished.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import socket
import ssl
import struct
import termios
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from observe.logs.sinks.base import SinkError, bad, option_bool, option_seconds, query_options, redact
from observe.model import Record

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a network sink connects, and how (TLS context or None)."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    timeout: float

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(url: str, default_port: int | None, tls: bool) -> Endpoint:
    """Host, port and TLS options (``?ca=&cert=&key=&verify=true&timeout=10s``) of a sink URL.

    Raises:
        ConfigError: no host, a bad port, unreadable TLS files, bad options; one line naming the URL.
    """
    parts = urlsplit(url)
    if parts.path not in ("", "/"):
        raise bad(url, f"unexpected path {parts.path!r} (use {parts.scheme}://host:port)")
    host = parts.hostname or ""
    if not host:
        raise bad(url, f"no host (use {parts.scheme}://host:port)")
    try:
        port = parts.port
    except ValueError:
        raise bad(url, "the port is not a number from 1 to 65535") from None
    if port is None:
        port = default_port
    if port is None:
        raise bad(url, f"no port (use {parts.scheme}://{host}:PORT)")
    if port == 0:
        raise bad(url, "the port is not a number from 1 to 65535")
    opts = query_options(url)
    timeout = option_seconds(url, opts, "timeout", 10.0)
    context = tls_context(url, opts) if tls else None
    if not tls and any(k in opts for k in ("ca", "cert", "key", "verify")):
        raise bad(url, f"TLS options need a TLS scheme ({parts.scheme}+tls:// or tcp+tls://)")
    return Endpoint(host, port, context, timeout)


def tls_context(url: str, opts: dict[str, str]) -> ssl.SSLContext:
    """A client TLS context from ``ca``, ``cert``, ``key`` and ``verify``.

    Raises:
        ConfigError: a file cannot be read or is not PEM of the right kind.
    """
    verify = option_bool(url, opts, "verify", True)
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ca, cert, key = opts.get("ca", ""), opts.get("cert", ""), opts.get("key", "")
    for what, path in (("ca", ca), ("cert", cert), ("key", key)):
        if path and not os.access(path, os.R_OK):
            raise bad(url, f"{what}={path} cannot be read")
    if ca:
        try:
            ctx.load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError) as err:
            raise bad(url, f"ca={ca} is not a PEM CA certificate ({err.__class__.__name__})") from None
    if key and not cert:
        raise bad(url, "key= needs cert=")
    if cert:
        try:
            ctx.load_cert_chain(cert, key or None)
        except (ssl.SSLError, OSError) as err:
            raise bad(url, f"cert={cert} key={key or cert} is not a PEM certificate and key "
                           f"({err.__class__.__name__})") from None
    return ctx


def _keepalive(sock: socket.socket, timeout: float) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
        opt = getattr(socket, name, None)
        if opt is not None:
            sock.setsockopt(socket.IPPROTO_TCP, opt, value)
    user_timeout = getattr(socket, "TCP_USER_TIMEOUT", None)
    if user_timeout is not None:  # unacknowledged data older than this fails the connection
        sock.setsockopt(socket.IPPROTO_TCP, user_timeout, int(max(timeout, 1.0) * 3 * 1000))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect(endpoint: Endpoint) -> socket.socket:
    """A connected (and for TLS, handshaken) socket with keepalive and the endpoint's timeout.

    Raises:
        SinkError: the peer cannot be reached.
    """
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=endpoint.timeout)
    except OSError as err:
        raise SinkError(f"cannot connect to {endpoint.address}: {err.strerror or err}") from None
    try:
        _keepalive(sock, endpoint.timeout)
        if endpoint.tls is not None:
            sock = endpoint.tls.wrap_socket(sock, server_hostname=endpoint.host)
    except (OSError, ssl.SSLError) as err:
        sock.close()
        raise SinkError(f"TLS handshake with {endpoint.address} failed: {err}") from None
    return sock


OPEN, CLOSED, RESET = "open", "closed", "reset"


def peer_state(sock: socket.socket) -> str:
    """``open``, ``closed`` (the peer closed its side: FIN) or ``reset`` (RST or error), without blocking.

    Data the peer sent that nobody asked for is read and dropped.
    """
    while True:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return RESET
        if not readable:
            return OPEN
        try:
            if isinstance(sock, ssl.SSLSocket):
                timeout = sock.gettimeout()
                sock.setblocking(False)
                try:
                    data = sock.recv(65536)
                finally:
                    sock.settimeout(timeout)
            else:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
        except (ssl.SSLWantReadError, BlockingIOError):
            return OPEN
        except OSError:
            return RESET
        if not data:
            return CLOSED


def peer_closed(sock: socket.socket) -> bool:
    """True when the peer closed or reset the connection (checked without blocking)."""
    return peer_state(sock) != OPEN


def unsent_bytes(sock: socket.socket) -> int:
    """Bytes in the socket's send queue that the peer's TCP has not acknowledged (Linux SIOCOUTQ)."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return -1
    return int(struct.unpack("i", raw)[0])


@dataclass(slots=True)
class _Sent:
    """One written batch: its bytes, its records, where it ends in the connection's stream."""

    data: bytes
    records: int
    end: int = 0
    acked_at: float = 0.0  # monotonic time the peer's TCP acknowledged all of it; 0 while not


SETTLE_SECONDS = 1.0
SETTLE_BYTES = 16 << 20


class StreamSink:
    """A sink writing encoded records over one persistent TCP (or TLS) connection, reconnecting on failure.

    Subclasses give ``encode(records) -> bytes``. A written batch is confirmed once the peer's
    TCP acknowledged all of its bytes (``SIOCOUTQ``) and then either a second passed with the
    connection intact or 16 MiB more were acknowledged (what a receiver took from the network
    but had not read yet is lost if it dies; more than its socket buffer cannot be unread), or
    the peer closed the connection only after reading our end of stream (at ``finish``). A
    peer that closes or resets the connection itself confirms nothing it had not settled: it
    may have read and refused it (a framing error, a message too long). Until confirmed the
    bytes are kept; when the connection ends they are sent first on the next one and counted
    in ``resent``.

    Args:
        url: the sink URL (for names and messages).
        endpoint: where to connect.
        encode: records -> the bytes for them.
        replay_limit: most bytes kept unacknowledged; past it a write waits for the peer.
    """

    def __init__(self, url: str, name: str, endpoint: Endpoint, encode: Callable[[Sequence[Record]], bytes],
                 replay_limit: int = 16 << 20) -> None:
        self.url = redact(url)
        self.name = name
        self.endpoint = endpoint
        self.encode = encode
        self.replay_limit = replay_limit
        self.resent = 0  # records sent again: after a reconnect, or after a failure part-way
        self.truncated = 0  # records cut to max_record_bytes (subclasses count them)
        self.connects = 0
        self._sock: socket.socket | None = None
        self._sent: deque[_Sent] = deque()  # written, not yet confirmed, oldest first
        self._stream = 0  # bytes written on the current connection
        self._acked = 0  # of those, bytes the peer's TCP acknowledged
        self._confirmed = 0  # batches confirmed so far
        self._encoded: tuple[object, bytes] | None = None  # the last batch (or its bytes), encoded once
        self._failed_part_way: object | None = None  # the batch (or its bytes) whose sending failed part-way

    # -- connection -----------------------------------------------------------------------
    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _open(self) -> socket.socket:
        """Connect and send first what the last connection did not confirm."""
        sock = connect(self.endpoint)
        self.connects += 1
        stream = 0
        try:
            for sent in self._sent:
                sock.sendall(sent.data)
                stream += len(sent.data)
                sent.end, sent.acked_at = stream, 0.0
        except OSError as err:
            sock.close()
            raise SinkError(f"connection to {self.endpoint.address} failed: {err.strerror or err}") from None
        self._stream, self._acked = stream, 0
        if self._sent:
            records = sum(s.records for s in self._sent)
            self.resent += records
            log.info("re-sent records the peer had not confirmed", extra={
                "event": "SinkBatchResent", "sink": self.name, "records": records})
        self._sock = sock
        return sock

    def _check(self, sock: socket.socket) -> None:
        """Raise SinkError when the peer closed or reset the connection (its unconfirmed data is kept)."""
        state = peer_state(sock)
        if state != OPEN:
            self._drop()
            how = "closed" if state == CLOSED else "reset"
            raise SinkError(f"{self.endpoint.address} {how} the connection")

    def _settle(self, sock: socket.socket) -> None:
        """Mark what the peer's TCP acknowledged; confirm the oldest batches that settled."""
        queued = unsent_bytes(sock)
        if queued < 0:
            return
        now = time.monotonic()
        self._acked = acked = self._stream - queued
        for sent in self._sent:
            if sent.acked_at:
                continue
            if sent.end > acked:
                break
            sent.acked_at = now
        while self._sent:
            first = self._sent[0]
            if not first.acked_at or (now - first.acked_at < SETTLE_SECONDS and acked - first.end < SETTLE_BYTES):
                break
            self._sent.popleft()
            self._confirmed += 1

    def count_truncated(self, nbytes: int, limit: int) -> None:
        """Count a record (of ``nbytes`` message bytes, 0: not known) cut to ``limit`` (``fit_doc``); a sink's
        first is logged."""
        self.truncated += 1
        if self.truncated == 1:
            log.warning("a record was over max_record_bytes and was cut (log.truncated)", extra={
                "event": "SinkRecordTruncated", "sink": self.name, "limit": limit, "bytes": nbytes})

    def _unacknowledged(self) -> int:
        return self._stream - self._acked

    # -- the Sink protocol ----------------------------------------------------------------
    def write(self, records: Sequence[Record]) -> None:
        if self._encoded is None or self._encoded[0] is not records:
            self._encoded = (records, self.encode(records))
        self._send(self._encoded[1], len(records), records)

    def _send(self, data: bytes, records: int, batch: object) -> None:
        """Send one batch's bytes (``batch``: what a retry of it passes again)."""
        if self._failed_part_way is batch:
            self.resent += records  # what got out of the failed attempt may arrive twice
        self._failed_part_way = None
        sock = self._sock or self._open()
        self._check(sock)
        self._settle(sock)
        if self._unacknowledged() + len(data) > self.replay_limit:
            deadline = time.monotonic() + self.endpoint.timeout
            while self._unacknowledged() + len(data) > self.replay_limit:
                if time.monotonic() > deadline:
                    self._drop()
                    raise SinkError(f"{self.endpoint.address} did not acknowledge {self._unacknowledged()} bytes "
                                    f"within {self.endpoint.timeout:g}s")
                time.sleep(0.002)
                self._check(sock)
                self._settle(sock)
        try:
            sock.sendall(data)
        except OSError as err:
            self._failed_part_way = batch
            self._drop()
            reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
            raise SinkError(f"sending to {self.endpoint.address} failed: {reason}") from None
        self._stream += len(data)
        self._sent.append(_Sent(data, records, self._stream))
        self._encoded = None

    def confirmed(self) -> int:
        sock = self._sock or self._open()
        self._check(sock)
        self._settle(sock)
        return self._confirmed

    def unconfirmed(self) -> int:
        return sum(s.records for s in self._sent)

    def finish(self, deadline: float) -> int:
        """End the stream; what the peer read up to our end (it closed in turn) is confirmed."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError, ValueError):
                self._settle(sock)
            if self._sent:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                if self._peer_read_all(sock, deadline):
                    self._confirmed += len(self._sent)
                    self._sent.clear()
        self._drop()
        if self._sent:
            log.warning("closing with records the peer has not confirmed", extra={
                "event": "SinkUnconfirmed", "sink": self.name, "records": self.unconfirmed()})
        return self._confirmed

    def _peer_read_all(self, sock: socket.socket, deadline: float) -> bool:
        """After our shutdown: True once the peer closed cleanly (it read our end of stream)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                readable, _, _ = select.select([sock], [], [], min(left, 0.05))
                if not readable:
                    continue
                data = sock.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except (OSError, ValueError):
                return False
            if not data:
                return unsent_bytes(sock) in (0, -1)

    def close(self) -> None:
        self.finish(time.monotonic() + min(5.0, self.endpoint.timeout))
