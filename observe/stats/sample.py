"""What one reading of a container's resource counters holds: frozen, backend-neutral data.

A field is None when the host cannot provide it (no swap accounting, no pids controller, a
remote engine that does not report it): consumers then omit the series rather than invent a
zero. Counters are totals since the container's cgroup was created; rates are the consumer's
business (see ``rate``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from operator import attrgetter
from typing import TypeVar

T = TypeVar("T", bound=type)

# Interfaces cAdvisor leaves out (``isIgnoredDevice``): loopback and the host ends of bridges.
IGNORED_INTERFACE_PREFIXES = ("lo", "veth", "docker", "nerdctl")


@dataclass(frozen=True, slots=True)
class InterfaceCounters:
    """One network interface inside the container's network namespace (``/proc/<pid>/net/dev``)."""

    interface: str
    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


@dataclass(frozen=True, slots=True)
class DeviceIO:
    """Block I/O of the container on one device; ``device`` is ``/dev/<name>`` or ``<major>:<minor>``.

    The first four are what every layout has (v1 blkio, v2 ``io.stat``, the API); the rest only v1's
    CFQ/BFQ statistics files give, and stay None elsewhere. ``bytes_by_op`` is the bytes per
    operation as the kernel names them (``Read``, ``Write``, ``Sync``, ``Async``, ``Discard``,
    ``Total``): cAdvisor's ``container_blkio_device_usage_total``.
    """

    device: str
    read_bytes: int
    write_bytes: int
    reads: int
    writes: int
    major: int = -1
    minor: int = -1
    read_seconds: float | None = None
    write_seconds: float | None = None
    reads_merged: int | None = None
    writes_merged: int | None = None
    io_current: int | None = None
    io_time_seconds: float | None = None
    io_weighted_seconds: float | None = None
    bytes_by_op: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Pressure:
    """Pressure stall information of one resource (cgroup v2 ``<resource>.pressure``), cumulative seconds.

    ``waiting`` is the ``some`` line (at least one task stalled), ``stalled`` the ``full`` line
    (every non-idle task stalled); ``full`` is None where the kernel has no such line (cpu before 5.13).
    """

    resource: str
    waiting_seconds: float
    stalled_seconds: float | None


def stored_through_slots(cls: T) -> T:
    """Give a frozen, slotted dataclass an ``__init__`` that stores each field through its slot's descriptor.

    The one ``dataclass`` writes calls ``object.__setattr__`` per field (as frozen classes must), about twice
    the cost; a sweep builds a ``Sample`` of 45 fields per container every second. Same signature and
    defaults (fields with a ``default_factory`` are not supported: the class is returned unchanged); the
    instances are as immutable (assigning still raises) and equal to what the generated one makes.
    """
    found = fields(cls)
    if any(f.default is MISSING and f.default_factory is not MISSING for f in found):
        return cls
    scope: dict[str, object] = {}
    params = []
    for f in found:
        scope[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            scope[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in found) or "    pass\n"
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", scope)  # the source is made above from field names
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls


@stored_through_slots
@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of a container's counters.

    ``time`` is the wall-clock (unix) time of the reading, ``monotonic`` the monotonic clock at
    the same moment (use it for rates: the wall clock may jump). Spec fields (``spec_*``) are the
    limits in force as the cgroup reports them, so ``docker update`` shows without re-inspecting.
    """

    time: float
    monotonic: float
    cpu_usage_seconds: float | None = None
    cpu_user_seconds: float | None = None
    cpu_system_seconds: float | None = None
    cpu_cfs_periods: int | None = None
    cpu_cfs_throttled_periods: int | None = None
    cpu_cfs_throttled_seconds: float | None = None
    memory_usage_bytes: int | None = None
    memory_working_set_bytes: int | None = None
    memory_rss_bytes: int | None = None
    memory_cache_bytes: int | None = None
    memory_swap_bytes: int | None = None
    memory_mapped_file_bytes: int | None = None
    memory_max_usage_bytes: int | None = None
    memory_failcnt: int | None = None
    memory_kernel_bytes: int | None = None
    memory_active_file_bytes: int | None = None
    memory_inactive_file_bytes: int | None = None
    memory_dirty_bytes: int | None = None
    memory_writeback_bytes: int | None = None
    memory_pgfault: int | None = None
    memory_pgmajfault: int | None = None
    memory_hierarchy_pgfault: int | None = None
    memory_hierarchy_pgmajfault: int | None = None
    memory_pgscan: int | None = None
    memory_pgsteal: int | None = None
    memory_refaults: tuple[tuple[str, int], ...] | None = None  # (anon|file, count), v2 only
    memory_events: tuple[tuple[str, int], ...] | None = None  # v2 memory.events: (low|high|max|oom|oom_kill, n)
    oom_events: int | None = None
    cpu_percpu_seconds: tuple[float, ...] | None = None  # v1 cpuacct.usage_percpu, when asked for
    cpu_cfs_burst_periods: int | None = None
    cpu_cfs_burst_seconds: float | None = None
    pressure: tuple[Pressure, ...] | None = None
    processes: int | None = None
    threads: int | None = None
    threads_max: int | None = None
    spec_memory_limit_bytes: int | None = None  # 0 = unlimited
    spec_memory_reservation_bytes: int | None = None  # 0 = none
    spec_memory_swap_limit_bytes: int | None = None  # 0 = unlimited
    spec_cpu_quota_us: int | None = None  # 0 = no quota
    spec_cpu_period_us: int | None = None
    spec_cpu_shares: int | None = None
    network: tuple[InterfaceCounters, ...] | None = None
    block_io: tuple[DeviceIO, ...] | None = None


def rate(older: Sample, newer: Sample, value: Callable[[Sample], float | int | None]) -> float | None:
    """Per-second change of ``value`` between two samples; None when unknown or reset.

    A counter that went down (the container's cgroup was recreated) gives None, not a negative rate.
    """
    a, b = value(older), value(newer)
    dt = newer.monotonic - older.monotonic
    if a is None or b is None or dt <= 0 or b < a:
        return None
    return (b - a) / dt


def cpu_cores(older: Sample, newer: Sample) -> float | None:
    """CPU used between two samples, in cores (1.0 = one core busy the whole time)."""
    return rate(older, newer, lambda s: s.cpu_usage_seconds)


def unlimited_as_zero(value: int | None) -> int | None:
    """cAdvisor's ``specMemoryValue``: a limit above 2^62 means "no limit" and is reported as 0."""
    if value is None:
        return None
    return 0 if value > 1 << 62 else value


class StatsUnavailable(Exception):
    """A container's counters could not be read this time (the message says why)."""


class ContainerGone(StatsUnavailable):
    """The container's cgroup or process no longer exists: it stopped between two looks."""


_SAMPLE_REST = [f.name for f in fields(Sample)][2:]
assert [f.name for f in fields(Sample)][:2] == ["time", "monotonic"]
_rest_of = attrgetter(*_SAMPLE_REST)


def sample_at(sample: Sample, time: float, monotonic: float) -> Sample:
    """``sample`` with new clocks (an idle container's reading, taken again): every other field the same."""
    return Sample(time, monotonic, *_rest_of(sample))
