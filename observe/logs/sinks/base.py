"""The sink seam: a sink takes a batch of records; checkpoints move once the receiver confirmed it.

Delivery is at-least-once: ``write`` either takes the whole batch or raises ``SinkError``,
and the caller retries the same batch later. For most sinks a returned ``write`` is the
confirmation (a file written, a Fluentd acknowledgement received). A ``ConfirmingSink``
(tcp, syslog) confirms later: ``confirmed()`` says how many written batches the receiver
has confirmed so far, and only those release their positions to the checkpoints.

Records larger than a receiver accepts are cut by ``fit_doc`` (the rule is documented
there and in the README) rather than refused by the receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit, urlunsplit

from observe.errors import ConfigError, ObserveError
from observe.logs.formats import FORMATS, render, render_batch, render_lines
from observe.model import Record
from observe.units import parse_bool, parse_duration, parse_size


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


@runtime_checkable
class ConfirmingSink(Sink, Protocol):
    """A sink whose ``write`` is not yet delivery: the receiver confirms batches later, in order.

    ``resent`` counts records sent again (after a reconnect or a failure part-way);
    ``truncated`` records cut to the sink's ``max_record_bytes``.
    """

    resent: int
    truncated: int

    def confirmed(self) -> int:
        """Batches written so far that the receiver confirmed (a running total, in write order).

        Also watches the connection while nothing is written: a peer that closed or reset it is
        noticed here, and a new connection re-sends what was not confirmed.

        Raises:
            SinkError: the connection failed or cannot be made now; call again later.
        """

    def unconfirmed(self) -> int:
        """Records written and not confirmed yet."""

    def finish(self, deadline: float) -> int:
        """Close, waiting until ``deadline`` (monotonic) for the receiver to confirm; ``confirmed()`` then."""


class Encoding(NamedTuple):
    """How a sink turns a batch into bytes, as data: another process makes the same bytes from it.

    ``fmt`` is the record format; a line longer than ``max_record_bytes`` (0: no limit) is cut by
    ``fit_doc``.
    """

    fmt: str
    max_record_bytes: int = 0


def encode(encoding: Encoding, records: Sequence[Record]) -> tuple[bytes, list[Record]]:
    """The newline-delimited bytes of ``records`` in ``encoding``, and the records that were cut to fit."""
    fmt, limit = encoding
    if not limit:
        return render_batch([r.doc for r in records], fmt), []
    lines = render_lines([r.doc for r in records], fmt)
    cut: list[Record] = []
    if max(map(len, lines), default=0) > limit:
        for i, line in enumerate(lines):
            if len(line) > limit:
                fitted = fit_doc(records[i].doc, limit, lambda d: len(render(d, fmt)) + 1)
                if fitted is not None:
                    lines[i] = render(fitted, fmt) + b"\n"
                    cut.append(records[i])
    return b"".join(lines), cut


@runtime_checkable
class EncodingSink(Sink, Protocol):
    """A sink whose bytes for a batch are ``encode(encoding, records)``, which also takes them made elsewhere.

    ``observe run`` reads a large backlog with a second process, which encodes its records for
    each such sink (``observe.logs.backlog``).
    """

    encoding: Encoding

    def write_encoded(self, data: bytes, records: int, truncated: int) -> None:
        """Deliver ``records`` records encoded as ``data`` (``truncated`` of them cut to fit), or raise SinkError.

        A retry passes the same ``data`` object again.
        """


TRUNCATED_BYTES = "observe.truncated_bytes"
_CUT_FIRST = ("message", "error.stack_trace")
_KEEP = frozenset({"@timestamp", "@version", "message", "log.level", "log.truncated", "stream", "container.id",
                   "container.name", "observe.time_ns", TRUNCATED_BYTES})


def _utf8(value: str) -> bytes:
    return value.encode("utf-8", "replace")


def fit_doc(doc: Mapping[str, Any], limit: int, size: Callable[[Mapping[str, Any]], int]) -> dict[str, Any] | None:
    """A copy of ``doc`` whose encoding (``size``) fits in ``limit`` bytes, or None when it already fits.

    The rule: text is cut from the end, on a UTF-8 character boundary, first of ``message``,
    then ``error.stack_trace``, then of the longest other string fields; if that is not enough,
    the largest fields other than the record's identity (time, message, level, stream,
    container, ``observe.*``) are removed. The copy says so: ``log.truncated: true`` and
    ``observe.truncated_bytes``, the bytes of text and fields taken out. The result is still
    one valid JSON document of valid UTF-8, whatever the format.
    """
    if size(doc) <= limit:
        return None
    out = dict(doc)
    out["log.truncated"] = True
    out[TRUNCATED_BYTES] = 0
    removed = 0
    for _ in range(64):
        out[TRUNCATED_BYTES] = removed
        over = size(out) - limit
        if over <= 0:
            return out
        strings = [k for k, v in out.items() if isinstance(v, str) and v and k not in ("@timestamp", "@version")]
        first = [k for k in _CUT_FIRST if k in strings]
        if first or strings:
            key = first[0] if first else max(strings, key=lambda k: len(out[k]))
            raw = _utf8(out[key])
            keep = max(0, len(raw) - over - 32)  # 32: room for the growing truncated_bytes number
            cut = raw[:keep].decode("utf-8", "ignore")
            removed += len(raw) - len(_utf8(cut))
            out[key] = cut
            continue
        droppable = [k for k in out if k not in _KEEP]
        if not droppable:
            break
        key = max(droppable, key=lambda k: len(_utf8(str(out[k]))))
        removed += len(_utf8(str(out.pop(key))))
    out[TRUNCATED_BYTES] = removed
    return out


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


def option_size(url: str, opts: dict[str, str], key: str, default: int, least: int = 1024) -> int:
    """A size option (``32KiB``, ``1MB``, ``4096``) of at least ``least`` bytes.

    Raises:
        ConfigError: not a size, or below ``least``.
    """
    value = opts.get(key)
    if value is None:
        return default
    try:
        size = parse_size(value)
    except ValueError:
        raise bad(url, f"{key}={value!r} is not a size (e.g. 32KiB)") from None
    if size < least:
        raise bad(url, f"{key}={value!r} is below {least} bytes")
    return size


def check_format(url: str, value: str) -> str:
    if value not in FORMATS:
        allowed = ", ".join(FORMATS)
        raise bad(url, f"format={value!r} is not one of {allowed}")
    return value
