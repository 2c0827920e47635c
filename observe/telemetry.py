"""The core's own counters, kept as plain data for the exporter and the TUI to read.

Writers (log readers, sinks) call the ``add_*`` methods from their threads; readers take an
immutable ``snapshot()``. Nothing here knows Prometheus.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from observe.model import Record

FLAG_KINDS = ("truncated", "invalid_utf8", "dropped", "lost", "partial_joined", "json_parsed", "json_failed",
              "engine_duplicate")


@dataclass(frozen=True, slots=True)
class LogCountersSnapshot:
    """Totals since start. ``lines``/``bytes`` by (container id, level, stream); ``flags`` by (container id, kind)."""

    lines: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    bytes: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    flags: Mapping[tuple[str, str], int] = field(default_factory=dict)


def sum_records(records: Iterable[Record], lines: dict[tuple[str, str], int],
                nbytes: dict[tuple[str, str], int]) -> None:
    """Add the records' raw lines and message bytes into ``lines`` and ``nbytes`` by (level, stream)."""
    for r in records:
        key = (r.level, r.stream)
        if key in lines:
            lines[key] += r.lines
            nbytes[key] += r.nbytes
        else:
            lines[key] = r.lines
            nbytes[key] = r.nbytes


class LogCounters:
    """Thread-safe counters of the log path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._bytes: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self._flags: defaultdict[tuple[str, str], int] = defaultdict(int)

    def add_record(self, container_id: str, level: str, stream: str, nbytes: int, lines: int = 1) -> None:
        key = (container_id, level or "unknown", stream)
        with self._lock:
            self._lines[key] += lines
            self._bytes[key] += nbytes

    def add_records(self, container_id: str, records: Iterable[Record]) -> None:
        """``add_record`` for many records of one container: summed first, then one locked update per key."""
        lines: dict[tuple[str, str], int] = {}
        nbytes: dict[tuple[str, str], int] = {}
        sum_records(records, lines, nbytes)
        self.add_sums(container_id, lines, nbytes)

    def add_sums(self, container_id: str, lines: Mapping[tuple[str, str], int],
                 nbytes: Mapping[tuple[str, str], int]) -> None:
        """Add lines and bytes by (level, stream) of one container (``sum_records``)."""
        with self._lock:
            for (level, stream), n in lines.items():
                full = (container_id, level or "unknown", stream)
                self._lines[full] += n
                self._bytes[full] += nbytes.get((level, stream), 0)

    def add_flag(self, container_id: str, kind: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._flags[(container_id, kind)] += n

    def snapshot(self) -> LogCountersSnapshot:
        with self._lock:
            return LogCountersSnapshot(dict(self._lines), dict(self._bytes), dict(self._flags))


@dataclass(frozen=True, slots=True)
class SinkStatus:
    """One sink's delivery state, as the exporter and the TUI show it.

    Records: ``written`` handed to the destination (into the kernel, for tcp and syslog),
    ``confirmed`` acknowledged by the receiver (Fluentd's ack, the peer's TCP, a file write),
    ``unconfirmed`` written and waiting for that, ``resent`` sent again (after a reconnect or a
    failure part-way: possibly received twice), ``truncated`` cut to the sink's
    ``max_record_bytes``, ``dropped`` by reason (never delivered by this sink in this run;
    their positions were not saved, so the next start reads them again). Attempts:
    ``failed`` (writes or connection checks that failed), ``retried``; ``disconnects`` counts
    losses of the connection. ``queue_depth`` is in batches, like ``queue_capacity``.
    """

    name: str
    url: str  # with credentials removed
    written: int = 0
    confirmed: int = 0
    resent: int = 0
    failed: int = 0
    retried: int = 0
    disconnects: int = 0
    truncated: int = 0
    dropped: Mapping[str, int] = field(default_factory=dict)
    unconfirmed: int = 0
    queue_depth: int = 0
    queue_capacity: int = 0
    connected: bool = False
    last_error: str = ""
    last_success: float = 0.0  # unix time of the last accepted batch; 0 when none
