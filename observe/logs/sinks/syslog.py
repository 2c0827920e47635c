"""The ``syslog+tcp://host:514`` sink (``syslog+tls://`` with TLS): RFC 5424 with octet counting (RFC 6587).

One frame per record: ``LEN <PRI>1 TIMESTAMP HOST APP-NAME - MSGID - MSG`` where MSG is the
record's JSON (``?format=``, default ``--output-format``), so that rsyslog's ``mmjsonparse``
or syslog-ng's ``json-parser()`` turn it into fields. PRI is ``?facility=`` (default
``local0``) times 8 plus the severity of ``log.level`` (trace/debug 7, info 6, notice 5,
warn 4, error 3, critical 2, fatal 1). HOST is ``host.name`` (else ``-``), APP-NAME the
container name cut to 48 printable US-ASCII characters, MSGID the stream (stdout/stderr),
TIMESTAMP the record's time in UTC with microseconds. Delivery is at-least-once over TCP
(see ``observe.logs.sinks.net``).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from observe.logs.formats import render_batch
from observe.logs.sinks.base import check_format, query_options
from observe.logs.sinks.net import StreamSink, bad, parse_endpoint
from observe.model import Record
from observe.timefmt import format_time_ns

FACILITIES = {
    name: code for code, name in enumerate((
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
        "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7"))
}
SEVERITIES = {"trace": 7, "debug": 7, "info": 6, "notice": 5, "warn": 4, "error": 3, "critical": 2, "fatal": 1}
_KNOWN = {"format", "facility", "timeout", "ca", "cert", "key", "verify"}


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


def frame(record: Record, msg: bytes, facility: int) -> bytes:
    """One record as an octet-counted RFC 5424 frame."""
    doc = record.doc
    pri = facility * 8 + SEVERITIES.get(record.level, 6)
    names = _names(doc.get("host.name"), doc.get("container.name"), record.stream)
    head = f"<{pri}>1 {format_time_ns(record.time_ns)} {names} - "
    body = head.encode("ascii") + msg
    return b"%d " % len(body) + body


class SyslogSink(StreamSink):
    """RFC 5424 frames over TCP or TLS; ``duplicates`` counts lines re-sent after a reconnect."""

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
        endpoint = parse_endpoint(url, 6514 if tls else 514, tls)
        super().__init__(url, f"syslog:{endpoint.address}", endpoint, self._encode)

    def _encode(self, records: Sequence[Record]) -> bytes:
        lines = render_batch([r.doc for r in records], self.fmt).split(b"\n") if self.fmt != "text" else [
            render_batch([r.doc], "text").rstrip(b"\n") for r in records]
        facility = self.facility
        return b"".join([frame(r, lines[i], facility) for i, r in enumerate(records)])
