"""The ``tcp://host:port`` sink (``tcp+tls://`` with TLS): newline-delimited JSON on one connection.

Each record is one JSON line (``?format=`` logstash nested, the default from
``--output-format``, or json flat), as Logstash's ``tcp`` input with ``codec => json_lines``,
Vector's ``socket`` source and Fluent Bit's ``tcp`` input read it. TLS options:
``?ca=/ca.pem&cert=/client.pem&key=/client.key&verify=true``; ``?timeout=10s`` bounds
connecting and writing. Delivery is at-least-once over TCP (see ``observe.logs.sinks.net``).

``?max_record_bytes=`` (default 32 KiB, newline included: Fluent Bit's ``tcp`` input takes
32 KB by default and drops the connection on a longer message) bounds one line; a longer
record is cut by ``observe.logs.sinks.base.fit_doc`` and flagged ``log.truncated``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from observe.logs.sinks.base import Encoding, bad, check_format, encode, option_size, query_options
from observe.logs.sinks.net import StreamSink, parse_endpoint
from observe.model import Record

_KNOWN = {"format", "timeout", "ca", "cert", "key", "verify", "max_record_bytes"}
DEFAULT_MAX_RECORD = 32 << 10


class TcpSink(StreamSink):
    """JSON lines over TCP or TLS; ``resent`` counts lines sent again after a reconnect."""

    def __init__(self, url: str, default_format: str) -> None:
        tls = urlsplit(url).scheme == "tcp+tls"
        opts = query_options(url)
        unknown = sorted(set(opts) - _KNOWN)
        if unknown:
            raise bad(url, f"unknown option {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
        self.fmt = check_format(url, opts.get("format", default_format))
        self.max_record_bytes = option_size(url, opts, "max_record_bytes", DEFAULT_MAX_RECORD)
        self.encoding = Encoding(self.fmt, self.max_record_bytes)
        endpoint = parse_endpoint(url, None, tls)
        super().__init__(url, f"tcp:{endpoint.address}", endpoint, self._encode)

    def _encode(self, records: Sequence[Record]) -> bytes:
        data, cut = encode(self.encoding, records)
        for record in cut:
            self.count_truncated(record.nbytes, self.max_record_bytes)
        return data

    def write_encoded(self, data: bytes, records: int, truncated: int) -> None:
        if self._encoded is None or self._encoded[1] is not data:  # counted once, not again at a retry
            for _ in range(truncated):
                self.count_truncated(0, self.max_record_bytes)
            self._encoded = (data, data)
        self._send(data, records, data)
