"""The sink seam: a sink takes a batch of records and returns only once it accepted them.

Delivery is at-least-once: ``write`` either accepts the whole batch or raises ``SinkError``,
and the caller retries the same batch later. Checkpoints move only after ``write`` returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from observe.errors import ConfigError, ObserveError
from observe.logs.formats import FORMATS
from observe.model import Record


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
