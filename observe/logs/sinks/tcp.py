"""The ``tcp://host:port`` sink (``tcp+tls://`` with TLS): newline-delimited JSON on one connection.

Each record is one JSON line (``?format=`` logstash nested, the default from
``--output-format``, or json flat), as Logstash's ``tcp`` input with ``codec => json_lines``,
Vector's ``socket`` source and Fluent Bit's ``tcp`` input read it. TLS options:
``?ca=/ca.pem&cert=/client.pem&key=/client.key&verify=true``; ``?timeout=10s`` bounds
connecting and writing. Delivery is at-least-once over TCP (see ``observe.logs.sinks.net``).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from observe.logs.formats import render_batch
from observe.logs.sinks.base import check_format, query_options
from observe.logs.sinks.net import StreamSink, bad, parse_endpoint
from observe.model import Record

_KNOWN = {"format", "timeout", "ca", "cert", "key", "verify"}


class TcpSink(StreamSink):
    """JSON lines over TCP or TLS; ``duplicates`` counts lines re-sent after a reconnect."""

    def __init__(self, url: str, default_format: str) -> None:
        tls = urlsplit(url).scheme == "tcp+tls"
        opts = query_options(url)
        unknown = sorted(set(opts) - _KNOWN)
        if unknown:
            raise bad(url, f"unknown option {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
        self.fmt = check_format(url, opts.get("format", default_format))
        endpoint = parse_endpoint(url, None, tls)
        super().__init__(url, f"tcp:{endpoint.address}", endpoint, self._encode)

    def _encode(self, records: Sequence[Record]) -> bytes:
        return render_batch([r.doc for r in records], self.fmt)
