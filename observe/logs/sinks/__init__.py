"""Where normalised records go. Sinks are named by URL: ``stdout``, ``file:///path`` ...

``SCHEMES`` is the table of URL schemes; a new sink is one module with a class taking
``(url, default_format)`` plus its line here. ``open_sink(url, default_format)`` is the one place
that turns a URL into a sink; unknown schemes and bad options fail at start with one line
(ConfigError).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from observe.errors import ConfigError
from observe.logs.sinks.base import Sink, SinkClosed, SinkError, redact
from observe.logs.sinks.files import FileSink, StdoutSink
from observe.logs.sinks.fluentd import FluentdSink
from observe.logs.sinks.syslog import SyslogSink
from observe.logs.sinks.tcp import TcpSink

__all__ = ["SCHEMES", "Sink", "SinkClosed", "SinkError", "check_sinks", "open_sink", "redact"]

SinkFactory = Callable[[str, str], Sink]

SCHEMES: dict[str, SinkFactory] = {
    "stdout": StdoutSink,
    "file": FileSink,
    "tcp": TcpSink,
    "tcp+tls": TcpSink,
    "fluentd": FluentdSink,
    "fluentd+tls": FluentdSink,
    "syslog+tcp": SyslogSink,
    "syslog+tls": SyslogSink,
}
"""URL scheme -> the sink class built from ``(url, default_format)``."""


def open_sink(url: str, default_format: str = "logstash") -> Sink:
    """Build the sink a URL names.

    Raises:
        ConfigError: unknown scheme or bad options; the message names the URL.
    """
    raw = url.strip()
    scheme = "stdout" if raw in ("stdout", "-", "stdout://") or raw.startswith("stdout?") else urlsplit(raw).scheme
    factory = SCHEMES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(s + ("://" if s != "stdout" else "") for s in SCHEMES))
        raise ConfigError(f"invalid value for --sink: unknown sink {redact(raw)!r} (known: {known})")
    return factory(raw, default_format)


def check_sinks(urls: Sequence[str], default_format: str = "logstash") -> None:
    """Open and close every sink a configuration names, so a bad one fails before anything starts.

    Network sinks do not connect here (a receiver that is down is not a configuration error).

    Raises:
        ConfigError: the first bad URL, in one line.
    """
    for url in urls:
        open_sink(url, default_format).close()
