"""The sink seam: a sink takes a batch of records and returns only once it accepted them.

Delivery is at-least-once: ``write`` either accepts the whole batch or raises ``SinkError``,
and the caller retries the same batch later. Checkpoints move only after ``write`` returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from observe.errors import ConfigError, ObserveError
from observe.formats import FORMATS
from observe.normalise import Record


class SinkError(ObserveError):
    """A sink could not take a batch now; the batch is retried."""


class SinkClosed(SinkError):
    """A sink can never take records again (its reader went away): the collector stops."""


class Sink(Protocol):
    """What the delivery loop needs of a sink."""

    name: str
    url: str

    def write(self, records: Sequence[Record]) -> None:
        """Deliver the whole batch or raise SinkError."""

    def close(self) -> None:
        """Flush and release; further writes are not expected."""


def redact(url: str) -> str:
    """The URL without a password, for logs and metrics."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def query_options(url: str) -> dict[str, str]:
    """``?a=1&b=2`` as a dict of the last value of each key."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def check_format(url: str, value: str) -> str:
    if value not in FORMATS:
        allowed = ", ".join(FORMATS)
        raise ConfigError(f"invalid value for --sink {redact(url)}: format={value!r} is not one of {allowed}")
    return value


SinkFactory = Callable[[str, str], Sink]
_FACTORIES: dict[str, SinkFactory] = {}


def register(*schemes: str) -> Callable[[SinkFactory], SinkFactory]:
    """Register a factory ``(url, default_format) -> Sink`` for URL schemes."""

    def deco(factory: SinkFactory) -> SinkFactory:
        for scheme in schemes:
            _FACTORIES[scheme] = factory
        return factory

    return deco


def open_sink(url: str, default_format: str = "logstash") -> Sink:
    """Build the sink a URL names.

    Raises:
        ConfigError: unknown scheme or bad options; the message names the URL.
    """
    from observe.sinks import files, fluentd, syslog, tcp  # noqa: F401 - they register their schemes

    raw = url.strip()
    scheme = "stdout" if raw in ("stdout", "-", "stdout://") else urlsplit(raw).scheme
    if scheme == "stdout" and raw.startswith("stdout?"):
        scheme = "stdout"
    factory = _FACTORIES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(s + ("://" if s != "stdout" else "") for s in _FACTORIES))
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
