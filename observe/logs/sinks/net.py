"""What the network sinks share: addresses, TLS, one persistent connection, and replay of unconfirmed bytes.

A TCP write returns once the bytes are in the kernel; the peer may still lose them (it closes,
it resets). Stream sinks without an application acknowledgement (``tcp``, ``syslog``)
therefore keep what they sent until the peer's TCP acknowledged it (the socket's send queue,
``SIOCOUTQ``, is empty) and send it again on the next connection: at-least-once, and the
re-sent lines are counted in ``duplicates`` as "possibly duplicated". What the peer's kernel
acknowledged but its process never read (a receiver killed with unread data) is beyond what
TCP can tell; a receiver that closes gracefully (shutdown, read to EOF) loses nothing.

A dead peer is found before each write: a readable socket whose ``recv(MSG_PEEK)`` is empty
has been closed by the peer. Keepalive and ``TCP_USER_TIMEOUT`` catch peers that vanished.
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

from observe.errors import ConfigError
from observe.logs.sinks.base import SinkError, query_options, redact
from observe.model import Record
from observe.units import parse_bool, parse_duration

log = logging.getLogger(__name__)

def bad(url: str, why: str) -> ConfigError:
    """The one-line error for a sink URL."""
    return ConfigError(f"invalid value for --sink {redact(url)}: {why}")


def option_bool(url: str, opts: dict[str, str], key: str, default: bool) -> bool:
    value = opts.get(key)
    if value is None:
        return default
    try:
        return parse_bool(value)
    except ValueError:
        raise bad(url, f"{key}={value!r} is not true or false") from None


def option_seconds(url: str, opts: dict[str, str], key: str, default: float) -> float:
    value = opts.get(key)
    if value is None:
        return default
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise bad(url, f"{key}={value!r} is not a duration (e.g. 10s)") from None
    if seconds <= 0:
        raise bad(url, f"{key}={value!r} must be above zero")
    return seconds


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


class StreamSink:
    """A sink writing encoded lines over one persistent TCP (or TLS) connection, reconnecting on failure.

    Subclasses give ``encode(records) -> bytes``. Sent data is kept until the peer's TCP
    acknowledged all of it and is replayed first on a new connection (see the module doc).

    Args:
        url: the sink URL (for names and messages).
        endpoint: where to connect.
        encode: records -> the bytes for them.
        replay_limit: most bytes kept unconfirmed; past it a write waits for the peer.
    """

    def __init__(self, url: str, name: str, endpoint: Endpoint, encode: Callable[[Sequence[Record]], bytes],
                 replay_limit: int = 16 << 20) -> None:
        self.url = redact(url)
        self.name = name
        self.endpoint = endpoint
        self.encode = encode
        self.replay_limit = replay_limit
        self.duplicates = 0  # lines sent again after a reconnect: possibly received twice
        self.connects = 0
        self._sock: socket.socket | None = None
        self._unconfirmed: deque[tuple[bytes, int]] = deque()  # (bytes, lines) sent, not yet TCP-acknowledged
        self._unconfirmed_bytes = 0
        self._pending: tuple[Sequence[Record], int] | None = None  # a batch whose send failed part-way

    # -- connection -----------------------------------------------------------------------
    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def _connected(self) -> socket.socket:
        if self._sock is not None:
            state = peer_state(self._sock)
            if state != RESET:  # a reset empties the send queue: it no longer tells what arrived
                self._confirm(self._sock)
            if state != OPEN:
                log.info("the peer closed the connection", extra={
                    "event": "SinkPeerClosed", "sink": self.name, "how": state})
                self._drop()
        if self._sock is None:
            sock = connect(self.endpoint)
            self.connects += 1
            replay = list(self._unconfirmed)
            try:
                for data, _ in replay:
                    sock.sendall(data)
            except OSError as err:
                sock.close()
                raise SinkError(f"connection to {self.endpoint.address} failed: {err.strerror or err}") from None
            if replay:
                lines = sum(n for _, n in replay)
                self.duplicates += lines
                log.info("re-sent lines the peer had not confirmed", extra={
                    "event": "SinkBatchResent", "sink": self.name, "lines": lines})
            self._sock = sock
        return self._sock

    def _confirm(self, sock: socket.socket) -> None:
        """Forget what the peer's TCP acknowledged: everything, once the send queue is empty."""
        if self._unconfirmed and unsent_bytes(sock) == 0:
            self._unconfirmed.clear()
            self._unconfirmed_bytes = 0

    def _wait_confirmed(self, sock: socket.socket, deadline: float) -> bool:
        while time.monotonic() < deadline:
            self._confirm(sock)
            if not self._unconfirmed:
                return True
            if peer_closed(sock):
                return False
            time.sleep(0.001)
        return not self._unconfirmed

    # -- the Sink protocol ----------------------------------------------------------------
    def write(self, records: Sequence[Record]) -> None:
        data = self.encode(records)
        if self._pending is not None and self._pending[0] is records:
            # The same batch again after a failure part-way: what got out may arrive twice.
            self.duplicates += self._pending[1]
        self._pending = None
        sock = self._connected()
        self._confirm(sock)
        if self._unconfirmed_bytes + len(data) > self.replay_limit and not self._wait_confirmed(
                sock, time.monotonic() + self.endpoint.timeout):
            self._drop()
            raise SinkError(f"{self.endpoint.address} did not acknowledge {self._unconfirmed_bytes} bytes "
                            f"within {self.endpoint.timeout:g}s")
        try:
            sock.sendall(data)
        except OSError as err:
            self._pending = (records, len(records))
            self._drop()
            reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
            raise SinkError(f"sending to {self.endpoint.address} failed: {reason}") from None
        self._unconfirmed.append((data, len(records)))
        self._unconfirmed_bytes += len(data)

    def close(self) -> None:
        """Wait briefly for the peer to acknowledge what was sent, then close."""
        if self._sock is not None:
            if not self._wait_confirmed(self._sock, time.monotonic() + min(5.0, self.endpoint.timeout)):
                log.warning("closing with lines the peer has not confirmed", extra={
                    "event": "SinkUnconfirmed", "sink": self.name,
                    "lines": sum(n for _, n in self._unconfirmed)})
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)
        self._drop()
