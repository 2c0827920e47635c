"""Stats from the Docker API, for an engine whose files we cannot read (tcp://, ssh://).

One streaming connection per container, kept open: the engine pushes a document a second, so
a sweep only reads the latest one and never waits on Docker. A one-shot ``stream=False`` call
costs the engine a second per container (it samples twice to compute a CPU delta), which is
what makes naive exporters slow. A stream that drops is reopened with backoff; the stream of a
container that went away is closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from observe.engine import Engine
from observe.errors import ContainerNotFound, ObserveError
from observe.model import ContainerInfo
from observe.stats.host import FsUsage, MachineInfo
from observe.stats.sample import (
    IGNORED_INTERFACE_PREFIXES,
    DeviceIO,
    InterfaceCounters,
    Sample,
    StatsUnavailable,
    unlimited_as_zero,
)
from observe.stats.snapshot import ContainerStats

log = logging.getLogger(__name__)
NS = 1e9


def _get(doc: Mapping[str, Any], *keys: str) -> Any:
    cur: Any = doc
    for key in keys:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _seconds(value: Any) -> float | None:
    n = _int(value)
    return None if n is None else n / NS


def _blkio(doc: Mapping[str, Any]) -> tuple[DeviceIO, ...] | None:
    stats = doc.get("blkio_stats")
    if not isinstance(stats, Mapping):
        return None
    by_bytes: dict[str, dict[str, int]] = {}
    by_ops: dict[str, dict[str, int]] = {}
    for source, target in (("io_service_bytes_recursive", by_bytes), ("io_serviced_recursive", by_ops)):
        for row in stats.get(source) or []:
            if not isinstance(row, Mapping):
                continue
            key = f"{row.get('major')}:{row.get('minor')}"
            value = _int(row.get("value"))
            if value is not None:
                target.setdefault(key, {})[str(row.get("op", "")).lower()] = value
    return tuple(
        DeviceIO(key, v.get("read", 0), v.get("write", 0), by_ops.get(key, {}).get("read", 0),
                 by_ops.get(key, {}).get("write", 0))
        for key, v in sorted(by_bytes.items())
    )


def _networks(doc: Mapping[str, Any]) -> tuple[InterfaceCounters, ...] | None:
    nets = doc.get("networks")
    if not isinstance(nets, Mapping):
        return None
    out = []
    for name, n in sorted(nets.items()):
        if not isinstance(n, Mapping) or str(name).lower().startswith(IGNORED_INTERFACE_PREFIXES):
            continue
        v = [_int(n.get(k)) or 0 for k in ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
                                            "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")]
        out.append(InterfaceCounters(str(name), *v))
    return tuple(out)


def sample_from_stats(doc: Mapping[str, Any], time: float, monotonic: float) -> Sample:
    """A stats API document (cgroup v1 or v2 engine) as a ``Sample``; what the API lacks stays None.

    The API has no process count, no OOM counter and, on cgroup v2, no failcnt; the memory
    ``limit`` it reports for an unlimited container is the host's memory, so the spec limit is
    left to the inspect document.
    """
    mem_stats: Mapping[str, Any] = _get(doc, "memory_stats", "stats") or {}
    v1 = "total_inactive_file" in mem_stats or "total_rss" in mem_stats
    usage = _int(_get(doc, "memory_stats", "usage"))
    inactive = _int(mem_stats.get("total_inactive_file" if v1 else "inactive_file"))
    working = None if usage is None else max(0, usage - (inactive or 0))
    return Sample(
        time=time,
        monotonic=monotonic,
        cpu_usage_seconds=_seconds(_get(doc, "cpu_stats", "cpu_usage", "total_usage")),
        cpu_user_seconds=_seconds(_get(doc, "cpu_stats", "cpu_usage", "usage_in_usermode")),
        cpu_system_seconds=_seconds(_get(doc, "cpu_stats", "cpu_usage", "usage_in_kernelmode")),
        cpu_cfs_periods=_int(_get(doc, "cpu_stats", "throttling_data", "periods")),
        cpu_cfs_throttled_periods=_int(_get(doc, "cpu_stats", "throttling_data", "throttled_periods")),
        cpu_cfs_throttled_seconds=_seconds(_get(doc, "cpu_stats", "throttling_data", "throttled_time")),
        memory_usage_bytes=usage,
        memory_working_set_bytes=working,
        memory_rss_bytes=_int(mem_stats.get("total_rss" if v1 else "anon")),
        memory_cache_bytes=_int(mem_stats.get("total_cache" if v1 else "file")),
        memory_swap_bytes=_int(mem_stats.get("total_swap")) if v1 else None,
        memory_mapped_file_bytes=_int(mem_stats.get("total_mapped_file" if v1 else "file_mapped")),
        memory_max_usage_bytes=_int(_get(doc, "memory_stats", "max_usage")),
        memory_failcnt=_int(_get(doc, "memory_stats", "failcnt")),
        threads=_int(_get(doc, "pids_stats", "current")),
        threads_max=unlimited_as_zero(_int(_get(doc, "pids_stats", "limit"))),
        network=_networks(doc),
        block_io=_blkio(doc),
    )


class _Follower:
    """Keeps one container's stats stream open and remembers the latest document."""

    def __init__(self, engine: Engine, container_id: str, backoff_max: float,
                 clock: Callable[[], float], monotonic: Callable[[], float]) -> None:
        self.engine = engine
        self.container_id = container_id
        self.backoff_max = backoff_max
        self.clock = clock
        self.monotonic = monotonic
        self.latest: tuple[Mapping[str, Any], float, float] | None = None
        self.last_error = ""
        self.connected = False
        self.reconnects = 0
        self._stop = threading.Event()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name=f"observe-stats-{container_id[:12]}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        backoff = 0.2
        opened = False
        while not self._stop.is_set():
            try:
                self._stream = self.engine.stats_stream(self.container_id)
                if self._stop.is_set():
                    self._stream.close()
                    return
                if opened:
                    self.reconnects += 1
                opened = True
                self.connected = True
                for doc in self.engine.iter_stream(self._stream):
                    if self._stop.is_set():
                        return
                    if isinstance(doc, Mapping) and str(doc.get("read") or "").startswith("0001-"):
                        continue  # the engine's placeholder for a container that is not running
                    self.latest = (doc, self.clock(), self.monotonic())
                    self.last_error = ""
                    backoff = 0.2
                self.last_error = "stats stream ended"
            except ContainerNotFound:
                self.last_error = "container is gone"
                self.connected = False
                return
            except ObserveError as err:
                self.last_error = str(err)
            except Exception as err:  # keep following whatever a bad document does
                log.exception("stats stream failed", extra={"event": "StatsStreamFailed"})
                self.last_error = repr(err)
            self.connected = False
            if self._stop.wait(backoff):
                return
            backoff = min(self.backoff_max, backoff * 2)

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # closing a half-open socket may fail; the thread ends either way
                log.debug("closing a stats stream failed", exc_info=True)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class ApiBackend:
    """Stats from the engine's streaming stats API, one stream (and thread) per container.

    Args:
        engine: the connected engine.
        backoff_max: the longest wait between attempts to reopen a dropped stream, in seconds.
        stale_after: a document older than this many seconds is no longer served as current.
    """

    name = "api"

    def __init__(self, engine: Engine, backoff_max: float = 5.0, stale_after: float = 10.0,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.backoff_max = backoff_max
        self.stale_after = stale_after
        self.clock = clock
        self.monotonic = monotonic
        self._followers: dict[str, _Follower] = {}

    def streams(self) -> int:
        """How many stats streams are open (or being reopened)."""
        return len(self._followers)

    def track(self, container: ContainerInfo) -> None:
        if container.id not in self._followers:
            self._followers[container.id] = _Follower(self.engine, container.id, self.backoff_max, self.clock,
                                                      self.monotonic)

    def untrack(self, container_id: str) -> None:
        follower = self._followers.pop(container_id, None)
        if follower is not None:
            follower.stop()

    def read(self, container: ContainerInfo, time: float, monotonic: float) -> Sample | None:
        """The latest streamed document as a sample; None before the first one arrived.

        Raises:
            StatsUnavailable: the stream is down and what we have is stale.
        """
        follower = self._followers.get(container.id)
        if follower is None or follower.latest is None:
            if follower is not None and follower.last_error:
                raise StatsUnavailable(f"stats of {container.name}: {follower.last_error}")
            return None
        doc, at, at_mono = follower.latest
        if monotonic - at_mono > self.stale_after:
            raise StatsUnavailable(f"stats of {container.name} are stale: {follower.last_error or 'no update'}")
        return sample_from_stats(doc, at, at_mono)

    def root(self, time: float, monotonic: float) -> ContainerStats | None:
        """None: the engine's API has no machine-wide counters."""
        return None

    def machine(self) -> MachineInfo | None:
        return None

    def slow(self, container_id: str) -> tuple[tuple[FsUsage, ...] | None, tuple[tuple[str, int], ...] | None]:
        """Nothing: disk usage and task states need the host's files."""
        return None, None

    def close(self) -> None:
        followers = list(self._followers.values())
        self._followers.clear()
        for f in followers:
            f.stop()
        for f in followers:
            f.join(2.0)
