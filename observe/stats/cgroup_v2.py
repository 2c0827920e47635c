"""Reading one container's counters from the unified (v2) cgroup tree: ``cpu.stat``, ``memory.stat``,
``memory.events``, ``io.stat`` and the pressure files, as cAdvisor and runc read them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

from observe.stats.cgroupfs import (
    ContainerFiles,
    count_lines,
    cpu_max,
    cpu_weight_to_shares,
    max_or_int,
    parse_flat_keyed,
    parse_nested_keyed,
    parse_pressure,
    read_file,
    to_int,
    v2_limit,
)
from observe.stats.sample import ContainerGone, DeviceIO, InterfaceCounters, Pressure, Sample, sample_at

if TYPE_CHECKING:
    from observe.stats.cgroup import CgroupReader

PRESSURE_RESOURCES = ("cpu", "memory", "io")
MEMORY_EVENTS = ("low", "high", "max", "oom", "oom_kill")
# io.stat key -> the operation name cAdvisor's container_blkio_device_usage_total uses
IO_OPS = (("rbytes", "Read"), ("wbytes", "Write"), ("dbytes", "Discard"))


def _slow_v2(d: str) -> dict[str, object]:
    j = os.path.join
    quota, period = cpu_max(read_file(j(d, "cpu.max")))
    weight = to_int(read_file(j(d, "cpu.weight")))
    return {
        "memory_limit": v2_limit(read_file(j(d, "memory.max"))),
        "memory_reservation": v2_limit(read_file(j(d, "memory.low"))),
        "memory_swap": v2_limit(read_file(j(d, "memory.swap.max"))),
        "cpu_quota": quota,
        "cpu_period": period,
        "cpu_shares": None if weight is None else cpu_weight_to_shares(weight),
        "threads_max": max_or_int(read_file(j(d, "pids.max"))),
        "has_io": os.path.exists(j(d, "io.stat")),
    }


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_v2(reader: CgroupReader, d: str, time: float, monotonic: float, f: ContainerFiles,
            refresh: bool, network: tuple[InterfaceCounters, ...] | None = None) -> Sample:
    """One reading of the container whose v2 directory is ``d``.

    Raises:
        ContainerGone: the directory no longer exists.
    """
    j = os.path.join
    cpu_text = f.read(j(d, "cpu.stat"))
    usage_text = f.read(j(d, "memory.current"))
    if cpu_text is not None and usage_text is not None and f.unchanged((cpu_text, usage_text, network), refresh):
        return sample_at(cast(Sample, f.last), time, monotonic)
    cpu = parse_flat_keyed(cpu_text)
    usage = to_int(usage_text)
    if not cpu and usage is None and not os.path.isdir(d):
        raise ContainerGone(f"cgroup {d} is gone")
    if refresh:
        f.slow = _slow_v2(d)
    slow = f.slow
    stat = parse_flat_keyed(f.read(j(d, "memory.stat")))
    events = parse_flat_keyed(f.read(j(d, "memory.events")))
    io = parse_nested_keyed(f.read(j(d, "io.stat"))) if slow.get("has_io") else None
    pressure = []
    for resource in PRESSURE_RESOURCES:
        totals = parse_pressure(f.read(j(d, f"{resource}.pressure")))
        if totals is not None:
            pressure.append(Pressure(resource, totals[0], totals[1]))
    refaults = tuple((kind, stat[f"workingset_refault_{kind}"]) for kind in ("anon", "file")
                     if f"workingset_refault_{kind}" in stat)
    pgscan = stat.get("pgscan")
    pgsteal = stat.get("pgsteal")
    f.last = sample = Sample(
        time=time,
        monotonic=monotonic,
        cpu_usage_seconds=cpu["usage_usec"] / 1e6 if "usage_usec" in cpu else None,
        cpu_user_seconds=cpu["user_usec"] / 1e6 if "user_usec" in cpu else None,
        cpu_system_seconds=cpu["system_usec"] / 1e6 if "system_usec" in cpu else None,
        cpu_cfs_periods=cpu.get("nr_periods"),
        cpu_cfs_throttled_periods=cpu.get("nr_throttled"),
        cpu_cfs_throttled_seconds=cpu["throttled_usec"] / 1e6 if "throttled_usec" in cpu else None,
        cpu_cfs_burst_periods=cpu.get("nr_bursts"),
        cpu_cfs_burst_seconds=cpu["burst_usec"] / 1e6 if "burst_usec" in cpu else None,
        memory_usage_bytes=usage,
        memory_working_set_bytes=None if usage is None else max(0, usage - stat.get("inactive_file", 0)),
        memory_rss_bytes=stat.get("anon"),
        memory_cache_bytes=stat.get("file"),
        memory_swap_bytes=f.read_int(j(d, "memory.swap.current")),
        memory_mapped_file_bytes=stat.get("file_mapped"),
        memory_max_usage_bytes=f.read_int(j(d, "memory.peak")),
        memory_failcnt=events.get("max"),
        memory_kernel_bytes=stat.get("kernel"),
        memory_active_file_bytes=stat.get("active_file"),
        memory_inactive_file_bytes=stat.get("inactive_file"),
        memory_dirty_bytes=stat.get("file_dirty"),
        memory_writeback_bytes=stat.get("file_writeback"),
        memory_pgfault=stat.get("pgfault"),
        memory_pgmajfault=stat.get("pgmajfault"),
        memory_hierarchy_pgfault=stat.get("pgfault"),
        memory_hierarchy_pgmajfault=stat.get("pgmajfault"),
        memory_pgscan=pgscan,
        memory_pgsteal=pgsteal,
        memory_refaults=refaults or None,
        memory_events=tuple((name, events[name]) for name in MEMORY_EVENTS if name in events) or None,
        oom_events=events.get("oom_kill"),
        processes=count_lines(f.read(j(d, "cgroup.procs"))),
        threads=f.read_int(j(d, "pids.current")),
        threads_max=_int(slow.get("threads_max")),
        spec_memory_limit_bytes=_int(slow.get("memory_limit")),
        spec_memory_reservation_bytes=_int(slow.get("memory_reservation")),
        spec_memory_swap_limit_bytes=_int(slow.get("memory_swap")),
        spec_cpu_quota_us=_int(slow.get("cpu_quota")),
        spec_cpu_period_us=_int(slow.get("cpu_period")),
        spec_cpu_shares=_int(slow.get("cpu_shares")),
        pressure=tuple(pressure) or None,
        network=network,
        block_io=None if io is None else tuple(
            DeviceIO(reader.device_name(key), v.get("rbytes", 0), v.get("wbytes", 0), v.get("rios", 0),
                     v.get("wios", 0), *_major_minor(key),
                     bytes_by_op=(*((op, v[k]) for k, op in IO_OPS if k in v),
                                  ("Total", v.get("rbytes", 0) + v.get("wbytes", 0))))
            for key, v in sorted(io.items())
        ),
    )
    return sample


def _major_minor(key: str) -> tuple[int, int]:
    major, _, minor = key.partition(":")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (-1, -1)



