"""The cAdvisor families: ``container_*`` over a container's stats, ``machine_*``, and the version series.

The rows copy cAdvisor's names, types, units and label conventions (``metrics/prometheus.go``) so
that dashboards and alerts written for cAdvisor work unchanged. ``RUNNING`` is over a running
container's ``ContainerStats`` (and the root cgroup's, ``id="/"``), ``MACHINE`` over the host's
``MachineInfo``, ``VERSION`` over ``VersionInfo``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields

from exporters.metricspec import COUNTER, GAUGE, MetricSpec, Series, one
from observe.model import ContainerInfo
from observe.stats import ContainerStats, Sample
from observe.stats.host import ROOT_ID, FsUsage, MachineInfo


def _sample(fn: Callable[[Sample], float | int | None]) -> Callable[[ContainerStats], Iterable[Series]]:
    return lambda s: one(fn(s.latest))


def _cfs(fn: Callable[[Sample], float | int | None]) -> Callable[[ContainerStats], Iterable[Series]]:
    """CFS series exist only for containers with a CPU quota, as in cAdvisor."""
    return lambda s: one(fn(s.latest)) if s.limits.cpu_quota_us > 0 else []


def _cpu_quota(s: ContainerStats) -> Iterable[Series]:
    quota = s.limits.cpu_quota_us
    return one(quota) if quota > 0 else []


def _net(attr: str) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        return [((n.interface,), float(getattr(n, attr))) for n in s.latest.network or ()]

    return get


def _disk(attr: str) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        return [((d.device,), float(v)) for d in s.latest.block_io or () if (v := getattr(d, attr)) is not None]

    return get


def _blkio_usage(s: ContainerStats) -> Iterable[Series]:
    return [((d.device, str(d.major), str(d.minor), op), float(n))
            for d in s.latest.block_io or () if d.major >= 0 for op, n in d.bytes_by_op]


def _fs(fn: Callable[[FsUsage], int | None]) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        return [((f.device,), float(v)) for f in s.fs or () if (v := fn(f)) is not None]

    return get


def _cpu_usage(s: ContainerStats) -> Iterable[Series]:
    """One series per CPU where the host gives them (cgroup v1, ``percpu``), skipping idle CPUs as cAdvisor
    does; else ``cpu="total"``."""
    latest = s.latest
    if latest.cpu_percpu_seconds:
        return [((f"cpu{i:02d}",), v) for i, v in enumerate(latest.cpu_percpu_seconds) if v > 0]
    return [] if latest.cpu_usage_seconds is None else [(("total",), latest.cpu_usage_seconds)]


def _failures(s: ContainerStats) -> Iterable[Series]:
    x = s.latest
    rows = (("pgfault", "container", x.memory_pgfault), ("pgmajfault", "container", x.memory_pgmajfault),
            ("pgfault", "hierarchy", x.memory_hierarchy_pgfault),
            ("pgmajfault", "hierarchy", x.memory_hierarchy_pgmajfault))
    return [((kind, scope), float(v)) for kind, scope, v in rows if v is not None]


def _pressure(resource: str, stalled: bool) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        for p in s.latest.pressure or ():
            if p.resource == resource:
                return one(p.stalled_seconds if stalled else p.waiting_seconds)
        return []

    return get


_PRESSURE = tuple(
    MetricSpec(f"container_pressure_{resource}_{kind}_seconds_total",
               f"Total time duration {'no' if kind == 'stalled' else 'at least one'} task"
               f"{'s' if kind == 'stalled' else ''} in the container {'were' if kind == 'stalled' else 'was'} "
               f"{'running' if kind == 'stalled' else 'stalled'} on {resource} (pressure stall information, "
               f"cgroup v2).", COUNTER, "seconds", (), _pressure(resource, kind == "stalled"))
    for resource in ("cpu", "memory", "io") for kind in ("waiting", "stalled")
)


def _health(s: ContainerStats) -> Iterable[Series]:
    return [] if s.container.id == ROOT_ID else one(health_state(s.container.health))


def health_state(health: str) -> int:
    """cAdvisor's ``container_health_state``: 1 healthy, 0 starting or unhealthy, -1 no healthcheck."""
    if health == "healthy":
        return 1
    if health in ("starting", "unhealthy"):
        return 0
    return -1


def _timestamp(fn: Callable[[ContainerInfo], object]) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        value = fn(s.container)
        return one(value.timestamp()) if hasattr(value, "timestamp") else []

    return get


RUNNING: tuple[MetricSpec[ContainerStats], ...] = (
    MetricSpec("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", COUNTER, "seconds",
               ("cpu",), _cpu_usage),
    MetricSpec("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", COUNTER,
               "seconds", (), _sample(lambda x: x.cpu_user_seconds)),
    MetricSpec("container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", COUNTER,
               "seconds", (), _sample(lambda x: x.cpu_system_seconds)),
    MetricSpec("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", COUNTER, "",
               (), _cfs(lambda x: x.cpu_cfs_periods)),
    MetricSpec("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", COUNTER, "",
               (), _cfs(lambda x: x.cpu_cfs_throttled_periods)),
    MetricSpec("container_cpu_cfs_burst_periods_total", "Number of periods when burst occurs.", COUNTER, "", (),
               _cfs(lambda x: x.cpu_cfs_burst_periods)),
    MetricSpec("container_cpu_cfs_burst_seconds_total", "Total time duration the container has been in burst.",
               COUNTER, "seconds", (), _cfs(lambda x: x.cpu_cfs_burst_seconds)),
    MetricSpec("container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.",
               COUNTER, "seconds", (), _cfs(lambda x: x.cpu_cfs_throttled_seconds)),
    MetricSpec("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of "
               "when it was accessed", GAUGE, "bytes", (), _sample(lambda x: x.memory_usage_bytes)),
    MetricSpec("container_memory_working_set_bytes", "Current working set in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_working_set_bytes)),
    MetricSpec("container_memory_rss", "Size of RSS in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_rss_bytes)),
    MetricSpec("container_memory_cache", "Number of bytes of page cache memory.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_cache_bytes)),
    MetricSpec("container_memory_swap", "Container swap usage in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_swap_bytes)),
    MetricSpec("container_memory_mapped_file", "Size of memory mapped files in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_mapped_file_bytes)),
    MetricSpec("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_max_usage_bytes)),
    # A counter without _total, as cAdvisor names it (the one lint exception tests/exporters allows).
    MetricSpec("container_memory_failcnt", "Number of memory usage hits limits", COUNTER, "",
               (), _sample(lambda x: x.memory_failcnt)),
    MetricSpec("container_memory_kernel_usage", "Size of kernel memory allocated in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_kernel_bytes)),
    MetricSpec("container_memory_total_active_file_bytes", "Current total active file in bytes.", GAUGE, "bytes",
               (), _sample(lambda x: x.memory_active_file_bytes)),
    MetricSpec("container_memory_total_inactive_file_bytes", "Current total inactive file in bytes.", GAUGE,
               "bytes", (), _sample(lambda x: x.memory_inactive_file_bytes)),
    MetricSpec("container_memory_failures_total", "Cumulative count of memory allocation failures.", COUNTER, "",
               ("failure_type", "scope"), _failures),
    MetricSpec("container_memory_dirty_bytes", "Bytes of page cache waiting to be written back.", GAUGE, "bytes",
               (), _sample(lambda x: x.memory_dirty_bytes)),
    MetricSpec("container_memory_writeback_bytes", "Bytes of page cache being written back.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_writeback_bytes)),
    MetricSpec("container_memory_pgscan_total", "Pages scanned by reclaim (cgroup v2).", COUNTER, "", (),
               _sample(lambda x: x.memory_pgscan)),
    MetricSpec("container_memory_pgsteal_total", "Pages reclaimed (cgroup v2).", COUNTER, "", (),
               _sample(lambda x: x.memory_pgsteal)),
    MetricSpec("container_memory_refaults_total", "Refaults of previously evicted pages, by kind (cgroup v2).",
               COUNTER, "", ("type",), lambda s: [((k,), float(n)) for k, n in s.latest.memory_refaults or ()]),
    MetricSpec("container_memory_events_total", "Memory events of the cgroup (cgroup v2 memory.events).", COUNTER,
               "", ("event",), lambda s: [((k,), float(n)) for k, n in s.latest.memory_events or ()]),
    MetricSpec("container_oom_events_total", "Count of out of memory events observed for the container", COUNTER,
               "", (), _sample(lambda x: x.oom_events)),
    MetricSpec("container_spec_memory_limit_bytes", "Memory limit for the container (0: no limit).", GAUGE, "bytes",
               (), lambda s: one(s.limits.memory_bytes)),
    MetricSpec("container_spec_memory_reservation_limit_bytes", "Memory reservation for the container (0: none).",
               GAUGE, "bytes", (), lambda s: one(s.limits.memory_reservation_bytes)),
    MetricSpec("container_spec_memory_swap_limit_bytes", "Memory swap limit for the container (0: no limit).",
               GAUGE, "bytes", (), lambda s: one(s.limits.memory_swap_bytes)),
    MetricSpec("container_spec_cpu_quota", "CPU quota of the container (microseconds per period).", GAUGE, "", (),
               _cpu_quota),
    MetricSpec("container_spec_cpu_period", "CPU period of the container (microseconds).", GAUGE, "", (),
               lambda s: one(s.limits.cpu_period_us)),
    MetricSpec("container_spec_cpu_shares", "CPU share of the container.", GAUGE, "", (),
               lambda s: one(s.limits.cpu_shares)),
    MetricSpec("container_network_receive_bytes_total", "Cumulative count of bytes received", COUNTER, "bytes",
               ("interface",), _net("rx_bytes")),
    MetricSpec("container_network_receive_packets_total", "Cumulative count of packets received", COUNTER, "",
               ("interface",), _net("rx_packets")),
    MetricSpec("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving",
               COUNTER, "", ("interface",), _net("rx_errors")),
    MetricSpec("container_network_receive_packets_dropped_total",
               "Cumulative count of packets dropped while receiving", COUNTER, "", ("interface",), _net("rx_dropped")),
    MetricSpec("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", COUNTER, "bytes",
               ("interface",), _net("tx_bytes")),
    MetricSpec("container_network_transmit_packets_total", "Cumulative count of packets transmitted", COUNTER, "",
               ("interface",), _net("tx_packets")),
    MetricSpec("container_network_transmit_errors_total",
               "Cumulative count of errors encountered while transmitting", COUNTER, "", ("interface",),
               _net("tx_errors")),
    MetricSpec("container_network_transmit_packets_dropped_total",
               "Cumulative count of packets dropped while transmitting", COUNTER, "", ("interface",),
               _net("tx_dropped")),
    MetricSpec("container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.",
               GAUGE, "bytes", ("device",), _fs(lambda f: f.usage_bytes)),
    MetricSpec("container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this "
               "filesystem.", GAUGE, "bytes", ("device",), _fs(lambda f: f.limit_bytes)),
    MetricSpec("container_fs_inodes_free", "Number of available Inodes", GAUGE, "", ("device",),
               _fs(lambda f: f.inodes_free)),
    MetricSpec("container_fs_inodes_total", "Number of Inodes", GAUGE, "", ("device",),
               _fs(lambda f: f.inodes_total)),
    MetricSpec("container_fs_reads_bytes_total", "Cumulative count of bytes read", COUNTER, "bytes", ("device",),
               _disk("read_bytes")),
    MetricSpec("container_fs_writes_bytes_total", "Cumulative count of bytes written", COUNTER, "bytes",
               ("device",), _disk("write_bytes")),
    MetricSpec("container_fs_reads_total", "Cumulative count of reads completed", COUNTER, "", ("device",),
               _disk("reads")),
    MetricSpec("container_fs_writes_total", "Cumulative count of writes completed", COUNTER, "", ("device",),
               _disk("writes")),
    MetricSpec("container_fs_read_seconds_total", "Cumulative count of seconds spent reading", COUNTER, "seconds",
               ("device",), _disk("read_seconds")),
    MetricSpec("container_fs_write_seconds_total", "Cumulative count of seconds spent writing", COUNTER, "seconds",
               ("device",), _disk("write_seconds")),
    MetricSpec("container_fs_reads_merged_total", "Cumulative count of reads merged", COUNTER, "", ("device",),
               _disk("reads_merged")),
    MetricSpec("container_fs_writes_merged_total", "Cumulative count of writes merged", COUNTER, "", ("device",),
               _disk("writes_merged")),
    MetricSpec("container_fs_io_current", "Number of I/Os currently in progress", GAUGE, "", ("device",),
               _disk("io_current")),
    MetricSpec("container_fs_io_time_seconds_total", "Cumulative count of seconds spent doing I/Os", COUNTER,
               "seconds", ("device",), _disk("io_time_seconds")),
    MetricSpec("container_fs_io_time_weighted_seconds_total", "Cumulative weighted I/O time in seconds", COUNTER,
               "seconds", ("device",), _disk("io_weighted_seconds")),
    MetricSpec("container_blkio_device_usage_total", "Blkio Device bytes usage", COUNTER, "",
               ("device", "major", "minor", "operation"), _blkio_usage),
    MetricSpec("container_processes", "Number of processes running inside the container.", GAUGE, "", (),
               _sample(lambda x: x.processes)),
    MetricSpec("container_threads", "Number of threads running inside the container", GAUGE, "", (),
               _sample(lambda x: x.threads)),
    MetricSpec("container_threads_max", "Maximum number of threads allowed inside the container, infinity if "
               "value is zero", GAUGE, "", (), _sample(lambda x: x.threads_max)),
    MetricSpec("container_tasks_state", "Number of tasks in given state", GAUGE, "", ("state",),
               lambda s: [((k,), float(n)) for k, n in s.tasks or ()]),
    *_PRESSURE,
    MetricSpec("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", GAUGE,
               "seconds", (), _timestamp(lambda c: c.started_at or c.created)),
    MetricSpec("container_creation_time_seconds", "Creation time of the container since unix epoch in seconds.",
               GAUGE, "seconds", (), _timestamp(lambda c: c.created)),
    MetricSpec("container_last_seen", "Last time a container was seen by the exporter", GAUGE, "", (),
               lambda s: one(s.latest.time), volatile=True),
    MetricSpec("container_health_state", "The result of the container's health check (1 healthy, 0 starting or "
               "unhealthy, -1 no healthcheck)", GAUGE, "", (), _health),
)

_COUNTERS = operator.attrgetter(*(f.name for f in fields(Sample) if f.name not in ("time", "monotonic")))


def running_key(s: ContainerStats) -> object:
    """What every ``RUNNING`` row but the volatile ``container_last_seen`` reads: the sample's values (not its
    time), the slow figures, the limits in force and the container. Equal keys give the same series, so the
    renderer reuses an idle container's lines (``exporters.exposition.Section.key``)."""
    return _COUNTERS(s.latest), s.fs, s.tasks, s.limits, s.container


CADVISOR_NAMING_EXCEPTIONS = ("container_memory_failcnt", "container_fs_inodes_total", "cadvisor_version_info")
"""cAdvisor's names that Prometheus' naming lint flags (a counter without ``_total``, a gauge with it,
camelCase labels); kept as cAdvisor spells them, because dashboards query them so."""

MACHINE_LABELS = ("boot_id", "machine_id", "system_uuid")


def machine_labels(m: MachineInfo) -> tuple[str, ...]:
    return m.boot_id, m.machine_id, m.system_uuid


MACHINE: tuple[MetricSpec[MachineInfo], ...] = (
    MetricSpec("machine_cpu_cores", "Number of logical CPU cores.", GAUGE, "", (), lambda m: one(m.cpu_cores)),
    MetricSpec("machine_cpu_physical_cores", "Number of physical CPU cores.", GAUGE, "", (),
               lambda m: one(m.cpu_physical_cores)),
    MetricSpec("machine_cpu_sockets", "Number of CPU sockets.", GAUGE, "", (), lambda m: one(m.cpu_sockets)),
    MetricSpec("machine_memory_bytes", "Amount of memory installed on the machine.", GAUGE, "bytes", (),
               lambda m: one(m.memory_bytes)),
    MetricSpec("machine_swap_bytes", "Amount of swap memory available on the machine.", GAUGE, "bytes", (),
               lambda m: one(m.swap_bytes)),
    MetricSpec("machine_scrape_error", "1 if there was an error while getting machine metrics, 0 otherwise.",
               GAUGE, "", (), lambda m: one(0)),
)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """What runs: observe's version and the engine's facts (``CoreView.engine_facts``)."""

    version: str
    facts: Mapping[str, str]


VERSION: tuple[MetricSpec[VersionInfo], ...] = (
    MetricSpec("observe_version_info", "Versions of observe, the engine, the kernel and the OS; always 1.", GAUGE,
               "", ("version", "docker_version", "kernel_version", "os_version"),
               lambda v: [((v.version, v.facts.get("docker_version", ""), v.facts.get("kernel_version", ""),
                            v.facts.get("os_version", "")), 1.0)]),
    MetricSpec("cadvisor_version_info", "The same as observe_version_info under cAdvisor's name and labels, for "
               "dashboards that read it (cadvisorVersion names observe).", GAUGE, "",
               ("cadvisorRevision", "cadvisorVersion", "dockerVersion", "kernelVersion", "osVersion"),
               lambda v: [(("", f"observe-{v.version}", v.facts.get("docker_version", ""),
                            v.facts.get("kernel_version", ""), v.facts.get("os_version", "")), 1.0)]),
)
