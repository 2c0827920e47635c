"""The ``syslog+tcp://host:514`` sink (``syslog+tls://`` with TLS): RFC 5424 over TCP, framed as RFC 6587 says.

``?framing=octet-counting`` (the default) sends ``LEN <PRI>1 ...``; ``?framing=newline``
(RFC 6587 non-transparent framing) ends each message with a newline instead, for receivers
that read only that (Fluent Bit's ``syslog`` input by default, Logstash's ``syslog`` input);
a newline inside a text-format MSG is then sent as the two characters ``\n``.

One frame per record: ``<PRI>1 TIMESTAMP HOST APP-NAME - MSGID - MSG`` where MSG is the
record's JSON (``?format=``, default ``--output-format``), so that rsyslog's ``mmjsonparse``
or syslog-ng's ``json-parser()`` turn it into fields. PRI is ``?facility=`` (default
``local0``) times 8 plus the severity of ``log.level`` (trace/debug 7, info 6, notice 5,
warn 4, error 3, critical 2, fatal 1). HOST is ``host.name`` (else ``-``), APP-NAME the
container name cut to 48 printable US-ASCII characters, MSGID the stream (stdout/stderr),
TIMESTAMP the record's time in UTC with microseconds. Delivery is at-least-once over TCP
(see ``observe.logs.sinks.net``). ``?max_record_bytes=`` (default 32 KiB, framing included:
Fluent Bit's ``syslog`` input takes 32 KB by default) bounds one frame; a longer record is cut
by ``observe.logs.sinks.base.fit_doc`` and flagged ``log.truncated``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from observe.logs.formats import render, render_batch
from observe.logs.sinks.base import bad, check_format, fit_doc, option_size, query_options
from observe.logs.sinks.net import StreamSink, parse_endpoint
from observe.model import Record
from observe.timefmt import format_time_ns

FACILITIES = {
    name: code for code, name in enumerate((
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
        "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7"))
}
SEVERITIES = {"trace": 7, "debug": 7, "info": 6, "notice": 5, "warn": 4, "error": 3, "critical": 2, "fatal": 1}
_KNOWN = {"format", "facility", "timeout", "ca", "cert", "key", "verify", "framing", "max_record_bytes"}
FRAMINGS = ("octet-counting", "newline")
DEFAULT_MAX_RECORD = 32 << 10


def header_field(value: object, limit: int) -> str:
    """A header field as RFC 5424 wants it: printable US-ASCII (others become ``_``), ``limit`` long at most.

    Empty values are the nil value ``-``.
    """
    out = "".join(c if 33 <= ord(c) < 127 else "_" for c in str(value or ""))[:limit]
    return out or "-"


_fields: dict[tuple[object, object, object], str] = {}


def _names(host: object, app: object, stream: object) -> str:
    """``HOST APP-NAME PROCID MSGID`` for a record, cached (a handful of containers write most lines)."""
    key = (host, app, stream)
    out = _fields.get(key)
    if out is None:
        if len(_fields) > 4096:
            _fields.clear()
        out = _fields[key] = f"{header_field(host, 255)} {header_field(app, 48)} - {header_field(stream, 32)}"
    return out


def frame(record: Record, msg: bytes, facility: int, framing: str = "octet-counting") -> bytes:
    """One record as an RFC 5424 message, octet-counted or newline-terminated (RFC 6587)."""
    doc = record.doc
    pri = facility * 8 + SEVERITIES.get(record.level, 6)
    names = _names(doc.get("host.name"), doc.get("container.name"), record.stream)
    head = f"<{pri}>1 {format_time_ns(record.time_ns)} {names} - "
    body = head.encode("ascii") + msg
    if framing == "newline":
        return body.replace(b"\n", b"\\n") + b"\n"
    return b"%d " % len(body) + body


class SyslogSink(StreamSink):
    """RFC 5424 frames over TCP or TLS; ``resent`` counts records sent again after a reconnect."""

    def __init__(self, url: str, default_format: str) -> None:
        tls = urlsplit(url).scheme == "syslog+tls"
        opts = query_options(url)
        unknown = sorted(set(opts) - _KNOWN)
        if unknown:
            raise bad(url, f"unknown option {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
        self.fmt = check_format(url, opts.get("format", default_format))
        name = opts.get("facility", "local0").lower()
        if name not in FACILITIES:
            raise bad(url, f"facility={name!r} is not one of {', '.join(FACILITIES)}")
        self.facility = FACILITIES[name]
        self.framing = opts.get("framing", "octet-counting").lower()
        if self.framing not in FRAMINGS:
            raise bad(url, f"framing={self.framing!r} is not one of {', '.join(FRAMINGS)}")
        self.max_record_bytes = option_size(url, opts, "max_record_bytes", DEFAULT_MAX_RECORD)
        endpoint = parse_endpoint(url, 6514 if tls else 514, tls)
        super().__init__(url, f"syslog:{endpoint.address}", endpoint, self._encode)

    def _encode(self, records: Sequence[Record]) -> bytes:
        lines = render_batch([r.doc for r in records], self.fmt).split(b"\n") if self.fmt != "text" else [
            render_batch([r.doc], "text").rstrip(b"\n") for r in records]
        facility, framing, limit = self.facility, self.framing, self.max_record_bytes
        frames = [frame(r, lines[i], facility, framing) for i, r in enumerate(records)]
        for i, data in enumerate(frames):
            if len(data) > limit:
                frames[i] = self._fit(records[i], limit)
        return b"".join(frames)

    def _fit(self, record: Record, limit: int) -> bytes:
        def encoded(doc: Mapping[str, Any]) -> bytes:
            return frame(record, render(doc, self.fmt), self.facility, self.framing)

        fitted = fit_doc(record.doc, limit, lambda d: len(encoded(d)))
        if fitted is None:
            return encoded(record.doc)
        self.count_truncated(record.nbytes, limit)
        return encoded(fitted)
