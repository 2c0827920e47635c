"""observe's own logs: JSON lines on stderr (python-json-logger), or text for humans.

Records carry ``level``, ``logger``, ``message`` and whatever context the caller passed in
``extra=``; an ``event`` field (``InventoryContainerAdded``, ``SinkBatchRetried`` ...) keeps
them greppable.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

_STD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class _TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%H:%M:%S")
        base = f"{stamp} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STD_ATTRS)
        return f"{base} {extras}" if extras else base


class _FluentFormatter(logging.Formatter):
    """A log record as the map fluent-logger sends: ``level``, ``logger``, ``message`` and the extras."""

    # fluent-logger's handler emits whatever format() returns; it wants a map, not a string.
    def format(self, record: logging.LogRecord) -> dict[str, Any]:  # type: ignore[override]
        out: dict[str, Any] = {"level": record.levelname.lower(), "logger": record.name,
                               "message": record.getMessage()}
        if record.exc_info:
            out["error.stack_trace"] = self.formatException(record.exc_info)
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and key not in out:
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        return out


def fluent_handler(address: str, tag: str = "observe.own") -> logging.Handler:
    """A handler shipping log records to a Fluentd forward input at ``host:port`` (fluent-logger).

    Message mode without acknowledgements: observe's own logs are best effort (fluent-logger
    buffers up to 1 MiB while Fluentd is away, then drops), unlike the records of the sinks.
    """
    from fluent.handler import FluentHandler

    host, _, port = address.rpartition(":")
    handler = FluentHandler(tag, host=host.strip("[]") or "127.0.0.1", port=int(port), nanosecond_precision=True)
    handler.setFormatter(_FluentFormatter())
    typed: logging.Handler = handler
    return typed


def setup_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None, fluentd: str = "",
                  static: dict[str, str] | None = None) -> None:
    """Send the ``observe`` loggers to ``stream`` (stderr) in the chosen format, and to Fluentd when asked.

    Args:
        fluentd: ``host:port`` of a Fluentd forward input that also gets them (empty: none).
        static: fields on every JSON line (a worker's ``worker: "k/N"``, so its events are told apart).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
                datefmt="%Y-%m-%dT%H:%M:%S%z",
                static_fields=dict(static or {}),
            )
        )
    else:
        handler.setFormatter(_TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    if fluentd:
        root.addHandler(fluent_handler(fluentd))
    root.setLevel(logging.WARNING)
    for name in ("observe", "exporters", "tui"):
        logging.getLogger(name).setLevel(level.upper())
