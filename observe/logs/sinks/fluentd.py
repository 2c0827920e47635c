"""The ``fluentd://host:24224`` sink (``fluentd+tls://`` with TLS): the Forward protocol with acknowledgements.

Each batch is sent in PackedForward mode, one message per tag:
``[tag, <bin: msgpack [EventTime, record] entries>, {"chunk": <base64 id>, "size": n}]``,
EventTime being msgpack ext type 0 with the record's exact time (uint32 seconds, uint32
nanoseconds, big-endian). A batch counts as delivered only when the receiver answered
``{"ack": <id>}`` for each of its chunks within ``?ack_timeout=`` (30s); otherwise the
connection is dropped and the unacknowledged chunks are sent again, with the same chunk id,
on a new one (their records are counted in ``resent``). ``?ack=false`` turns the
acknowledgements off (at-most-once past the socket, for comparison). An acknowledgement
means the receiver has the chunk in its input buffer: Fluent Bit's is in memory unless the
input uses ``storage.type filesystem``, so a receiver killed then loses what it acknowledged.

``?max_record_bytes=`` (default 1 MiB) bounds one packed record; a longer one is cut by
``observe.logs.sinks.base.fit_doc`` and flagged ``log.truncated``. A chunk holds at most
4 MiB of records (or one record), below Fluent Bit's ``in_forward`` ``Buffer_Max_Size``
(6,144,000 bytes), past which it drops the message.

Options: ``?tag=docker.{service.name}`` (default ``docker.{container.name}``): ``{field}``
is a flat record field such as ``container.name``, ``container.id``, ``service.name``,
``host.name``, ``stream``, ``log.level``, with characters other than letters, digits,
``_ . -`` replaced by ``_`` (``_`` when missing). ``?format=logstash`` (the default from
``--output-format``) sends records as nested maps (``{"container": {"name": ..}}``), as
Fluentd filters address them (``$.container.name``, ``record["container"]["name"]``);
``json`` sends flat dotted keys.

fluent-logger is not used here: it sends Message mode without acknowledgements and drops
its buffer past 1 MiB. It ships observe's own logs instead (``observe.ownlog``).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import socket
import struct
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgpack

from observe.logs.formats import _fallback, nest
from observe.logs.sinks.base import (
    SinkError,
    bad,
    check_format,
    fit_doc,
    option_bool,
    option_seconds,
    option_size,
    query_options,
    redact,
)
from observe.logs.sinks.net import connect, parse_endpoint, peer_closed
from observe.model import Record

log = logging.getLogger(__name__)

DEFAULT_TAG = "docker.{container.name}"
_FIELD = re.compile(r"\{([^{}]*)\}")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_@][A-Za-z0-9_@.\-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)
_KNOWN = {"tag", "format", "ack", "ack_timeout", "timeout", "ca", "cert", "key", "verify", "max_record_bytes"}
DEFAULT_MAX_RECORD = 1 << 20
MAX_CHUNK = 4 << 20


def compile_tag(template: str) -> Callable[[Mapping[str, Any]], str]:
    """``docker.{service.name}`` -> a function of a flat record giving its tag.

    Raises:
        ValueError: an unbalanced brace, an empty or odd field name, or an empty template.
    """
    if not template.strip():
        raise ValueError("the tag is empty")
    parts: list[str | tuple[str]] = []
    pos = 0
    for m in _FIELD.finditer(template):
        literal = template[pos:m.start()]
        if "{" in literal or "}" in literal:
            raise ValueError(f"unbalanced brace in tag {template!r}")
        name = m.group(1)
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"{{{name}}} in tag {template!r} is not a field name (e.g. {{container.name}})")
        parts.append(literal)
        parts.append((name,))
        pos = m.end()
    tail = template[pos:]
    if "{" in tail or "}" in tail:
        raise ValueError(f"unbalanced brace in tag {template!r}")
    parts.append(tail)
    if _UNSAFE.sub("", "".join(p for p in parts if isinstance(p, str))) != "".join(
            p for p in parts if isinstance(p, str)):
        raise ValueError(f"tag {template!r} has characters other than letters, digits, _ . - outside {{fields}}")
    if len(parts) == 1:
        fixed = template
        return lambda doc: fixed

    def render(doc: Mapping[str, Any]) -> str:
        out = []
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            else:
                value = doc.get(p[0])
                out.append(_UNSAFE.sub("_", str(value)) if value not in (None, "") else "_")
        return "".join(out)

    return render


def event_time(time_ns: int) -> msgpack.ExtType:
    """Fluentd's EventTime: ext type 0, uint32 seconds and uint32 nanoseconds, big-endian."""
    sec, nsec = divmod(time_ns, 1_000_000_000)
    return msgpack.ExtType(0, struct.pack(">II", sec, nsec))


def _pack(packer: msgpack.Packer, value: Any) -> bytes:
    try:
        return bytes(packer.pack(value))
    except (TypeError, ValueError, OverflowError):
        return bytes(packer.pack(_fallback(value)))


@dataclass(slots=True)
class _Chunk:
    tag: str
    chunk_id: str
    message: bytes
    size: int
    sent: bool = False
    acked: bool = False


@dataclass(slots=True)
class _InFlight:
    records: Sequence[Record]
    chunks: list[_Chunk] = field(default_factory=list)


class FluentdSink:
    """Forward protocol client: PackedForward chunks, each acknowledged before the batch counts as delivered."""

    def __init__(self, url: str, default_format: str) -> None:
        tls = urlsplit(url).scheme == "fluentd+tls"
        opts = query_options(url)
        unknown = sorted(set(opts) - _KNOWN)
        if unknown:
            raise bad(url, f"unknown option {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
        self.fmt = check_format(url, opts.get("format", default_format))
        if self.fmt == "text":
            raise bad(url, "format=text is not a record format for Fluentd (use logstash or json)")
        try:
            self.tag_of = compile_tag(opts.get("tag", DEFAULT_TAG))
        except ValueError as err:
            raise bad(url, str(err)) from None
        self.ack = option_bool(url, opts, "ack", True)
        self.ack_timeout = option_seconds(url, opts, "ack_timeout", 30.0)
        self.endpoint = parse_endpoint(url, 24224, tls)
        self.url = redact(url)
        self.name = f"fluentd:{self.endpoint.address}"
        self.max_record_bytes = option_size(url, opts, "max_record_bytes", DEFAULT_MAX_RECORD)
        self.resent = 0
        self.truncated = 0
        self.connects = 0
        self._confirmed = 0
        self._packer = msgpack.Packer(use_bin_type=True, default=str, unicode_errors="replace")
        self._sock: socket.socket | None = None
        self._unpacker = msgpack.Unpacker(raw=False)
        self._inflight: _InFlight | None = None

    # -- encoding -------------------------------------------------------------------------
    def _chunks(self, records: Sequence[Record]) -> list[_Chunk]:
        groups: dict[str, list[bytes]] = {}
        tag_of = self.tag_of
        packer = self._packer
        shape = nest if self.fmt == "logstash" else dict
        limit = self.max_record_bytes
        for r in records:
            entry = _pack(packer, [event_time(r.time_ns), shape(r.doc)])
            if len(entry) > limit:
                entry = self._fit(r, limit)
            groups.setdefault(tag_of(r.doc), []).append(entry)
        chunks = []
        for tag, entries in groups.items():
            start = size = 0
            for i, entry in enumerate(entries):
                if size and size + len(entry) > MAX_CHUNK:
                    chunks.append(self._chunk(tag, entries[start:i]))
                    start, size = i, 0
                size += len(entry)
            chunks.append(self._chunk(tag, entries[start:]))
        return chunks

    def _chunk(self, tag: str, entries: list[bytes]) -> _Chunk:
        chunk_id = base64.b64encode(uuid.uuid4().bytes).decode("ascii")
        option: dict[str, Any] = {"size": len(entries)}
        if self.ack:
            option["chunk"] = chunk_id
        return _Chunk(tag, chunk_id, _pack(self._packer, [tag, b"".join(entries), option]), len(entries))

    def _fit(self, record: Record, limit: int) -> bytes:
        shape = nest if self.fmt == "logstash" else dict
        when = event_time(record.time_ns)

        def packed(doc: Mapping[str, Any]) -> bytes:
            return _pack(self._packer, [when, shape(doc)])

        fitted = fit_doc(record.doc, limit, lambda d: len(packed(d)))
        if fitted is None:
            return packed(record.doc)
        self.truncated += 1
        if self.truncated == 1:
            log.warning("a record was over max_record_bytes and was cut (log.truncated)", extra={
                "event": "SinkRecordTruncated", "sink": self.name, "limit": limit, "bytes": record.nbytes})
        return packed(fitted)

    # -- connection -----------------------------------------------------------------------
    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        self._unpacker = msgpack.Unpacker(raw=False)

    def _connected(self) -> socket.socket:
        """The connection, made if there is none; SinkError when the peer closed the one we had."""
        if self._sock is not None and peer_closed(self._sock):
            self._drop()
            raise SinkError(f"{self.endpoint.address} closed the connection")
        if self._sock is None:
            self._sock = connect(self.endpoint)
            self.connects += 1
        return self._sock

    def _await_acks(self, sock: socket.socket, chunks: list[_Chunk]) -> None:
        waiting = {c.chunk_id: c for c in chunks if c.sent and not c.acked}
        deadline = time.monotonic() + self.ack_timeout
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SinkError(f"{self.endpoint.address} did not acknowledge chunk "
                                f"{next(iter(waiting))} within {self.ack_timeout:g}s")
            sock.settimeout(min(left, self.endpoint.timeout))
            if _QUICKACK is not None:  # acknowledge the ack at once, or a Nagling receiver holds the next one
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            finally:
                sock.settimeout(self.endpoint.timeout)
            if not data:
                raise SinkError(f"{self.endpoint.address} closed the connection before acknowledging")
            self._unpacker.feed(data)
            for msg in self._unpacker:
                if isinstance(msg, dict):
                    ack = msg.get("ack")
                    if isinstance(ack, bytes):  # some receivers answer with bin
                        ack = ack.decode("ascii", "replace")
                    chunk = waiting.pop(str(ack), None)
                    if chunk is not None:
                        chunk.acked = True

    # -- the Sink protocol ----------------------------------------------------------------
    def write(self, records: Sequence[Record]) -> None:
        if self._inflight is None or self._inflight.records is not records:
            self._inflight = _InFlight(records, self._chunks(records))
        chunks = self._inflight.chunks
        try:
            sock = self._connected()
            for chunk in chunks:
                if chunk.acked:
                    continue
                if chunk.sent:
                    self.resent += chunk.size
                sock.sendall(chunk.message)
                chunk.sent = True
            if self.ack:
                self._await_acks(sock, chunks)
        except SinkError:
            self._drop()
            raise
        except (OSError, msgpack.UnpackException, ValueError) as err:
            self._drop()
            reason = "timed out" if isinstance(err, TimeoutError) else (getattr(err, "strerror", None) or str(err))
            raise SinkError(f"sending to {self.endpoint.address} failed: {reason}") from None
        self._inflight = None
        self._confirmed += 1

    def confirmed(self) -> int:
        """Batches acknowledged so far (``write`` returns only then); also watches the idle connection."""
        self._connected()
        return self._confirmed

    def unconfirmed(self) -> int:
        return 0

    def finish(self, deadline: float) -> int:
        self._drop()
        return self._confirmed

    def close(self) -> None:
        self._drop()
