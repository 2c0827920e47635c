"""Reading a container's counters straight from the cgroup filesystem: the fast path for a local engine.

Pure readers: the cgroup root and the proc root are parameters, so tests point them at file
trees shaped like real hosts. cgroup v1 keeps each controller in its own hierarchy
(``<root>/cpuacct/docker/<id>``, possibly co-mounted as ``cpu,cpuacct``); cgroup v2 has one
unified tree (``<root>/system.slice/docker-<id>.scope``, read in ``cgroup_v2``). The figures and
their derivations follow cAdvisor and runc so that dashboards built on cAdvisor mean the same here.

Cost: what changes seldom (the limits, which change only with ``docker update``; on v1 also the
memory peak, failcnt, kernel memory, the OOM-kill count, the process count and which blkio
statistics files the host keeps) is re-read every ``REFRESH_EVERY`` reads of a container, so those
series may lag by that many sweeps; the rest every time, all through descriptors kept open
(``cgroupfs.ContainerFiles``). An idle container is read in three files: its memory usage, its CPU usage
(v2: ``cpu.stat``) and its network counters move whenever it does anything, so while they read as at the
last reading, the rest is taken from it (new clocks); every ``REFRESH_EVERY`` reads all are read again.
Like cAdvisor's dynamic housekeeping, what moves without the container running (LRU aging of its page cache,
writeback, packets it does not read) may lag by that many sweeps while it is idle.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from observe.model import CgroupLocation
from observe.stats.cgroup_v2 import read_v2
from observe.stats.cgroupfs import (
    ContainerFiles,
    KeyPicker,
    OneShotFiles,
    count_lines,
    max_or_int,
    parse_blkio_v1,
    parse_flat_keyed,
    parse_partitions,
    parse_percpu,
    read_file,
    to_int,
)
from observe.stats.netdev import parse_net_dev
from observe.stats.sample import ContainerGone, DeviceIO, InterfaceCounters, Sample, sample_at, unlimited_as_zero

V1_CONTROLLERS = ("cpuacct", "cpu", "memory", "blkio", "pids")
# runc's order: the first of these statistics sets whose bytes file names a device is used.
V1_BLKIO_PREFIXES = ("blkio.bfq.", "blkio.", "blkio.throttle.")
NS = 1e9
USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
REFRESH_EVERY = 10
V1_MEMORY_KEYS = ("total_inactive_file", "total_rss", "total_cache", "total_swap", "total_mapped_file",
                  "total_active_file", "total_dirty", "total_writeback", "pgfault", "pgmajfault", "total_pgfault",
                  "total_pgmajfault")
V1_CPUACCT_KEYS = ("user", "system")
CFS_KEYS = ("nr_periods", "nr_throttled", "throttled_time", "nr_bursts", "burst_time")


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as controller -> path; the v2 unified line is under ``""``.

    ``4:memory:/docker/<id>`` gives ``{"memory": "/docker/<id>"}``; co-mounted controllers
    (``2:cpu,cpuacct:/...``) each get the path; ``0::/system.slice/docker-<id>.scope`` gives ``{"": ...}``.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            out[controller] = path
    return out


def v1_hierarchies(cgroup_root: str) -> dict[str, str]:
    """Which directory under the root holds each v1 controller (``cpu`` may live in ``cpu,cpuacct``)."""
    out: dict[str, str] = {}
    try:
        names = sorted(os.listdir(cgroup_root))
    except OSError:
        return out
    for name in names:
        for controller in name.split(","):
            if controller in V1_CONTROLLERS and (controller not in out or name == controller):
                out[controller] = os.path.join(cgroup_root, name)
    return out


def _working_set(usage: int | None, inactive_file: int | None) -> int | None:
    if usage is None:
        return None
    return max(0, usage - (inactive_file or 0))


@dataclass(frozen=True, slots=True)
class CgroupPaths:
    """Where one container's cgroup files are: a directory per v1 controller, or the one v2 directory."""

    version: int
    dirs: Mapping[str, str]  # v1: controller -> absolute dir; v2: {"": dir}

    def dir(self, controller: str) -> str | None:
        return self.dirs.get("" if self.version == 2 else controller)


class CgroupReader:
    """Reads containers' counters from one host's cgroup filesystem.

    Args:
        cgroup_root: where the cgroup filesystem is mounted (``/sys/fs/cgroup``).
        version: 1 or 2, as the engine reports it.
        proc_root: where the host's ``/proc`` is (for ``/proc/<pid>/cgroup`` and ``/proc/partitions``).
        percpu: read cgroup v1's per-CPU usage (``cpuacct.usage_percpu``), as cAdvisor does by default.
    """

    def __init__(self, cgroup_root: str, version: int, proc_root: str = "/proc", percpu: bool = True) -> None:
        self.cgroup_root = cgroup_root
        self.version = version
        self.proc_root = proc_root
        self.percpu = percpu
        self.hierarchies = v1_hierarchies(cgroup_root) if version == 1 else {}
        self._devices: dict[str, str] = {}
        self._devices_loaded = False
        self.memory_stat = KeyPicker(V1_MEMORY_KEYS)
        self.cpuacct_stat = KeyPicker(V1_CPUACCT_KEYS)
        self.cpu_stat = KeyPicker(CFS_KEYS)

    def available(self) -> bool:
        """True when this host's files are where we expect (so the cgroup backend can work)."""
        if self.version == 2:
            return os.path.isfile(os.path.join(self.cgroup_root, "cgroup.controllers"))
        return "cpuacct" in self.hierarchies and "memory" in self.hierarchies

    def locate(self, location: CgroupLocation, pid: int = 0) -> CgroupPaths:
        """The container's directories: from ``/proc/<pid>/cgroup`` when it names existing ones, else ``location``.

        The process's own view wins because custom ``--cgroup-parent`` values and engine quirks
        make the computed path a guess; the guess is kept when the proc file is unreadable or
        names directories we cannot see (a private cgroup namespace).
        """
        from_proc: dict[str, str] = {}
        if pid > 0:
            text = read_file(os.path.join(self.proc_root, str(pid), "cgroup"))
            from_proc = parse_proc_cgroup(text) if text else {}
        if self.version == 2:
            guess = os.path.join(self.cgroup_root, location.path.strip("/"))
            seen = from_proc.get("")
            if seen and seen != "/":
                candidate = os.path.join(self.cgroup_root, seen.strip("/"))
                if os.path.isdir(candidate):
                    return CgroupPaths(2, {"": candidate})
            return CgroupPaths(2, {"": guess})
        dirs: dict[str, str] = {}
        for controller, hierarchy in self.hierarchies.items():
            dirs[controller] = os.path.join(hierarchy, location.path.strip("/"))
            seen = from_proc.get(controller)
            if seen and seen != "/":
                candidate = os.path.join(hierarchy, seen.strip("/"))
                if os.path.isdir(candidate):
                    dirs[controller] = candidate
        return CgroupPaths(1, dirs)

    def device_name(self, key: str) -> str:
        """``/dev/<name>`` for a ``major:minor`` key, from ``/proc/partitions`` (re-read once on a miss)."""
        if key not in self._devices and not self._devices_loaded:
            self._devices = parse_partitions(read_file(os.path.join(self.proc_root, "partitions")))
            self._devices_loaded = True
        return self._devices.get(key, key)

    def refresh_devices(self) -> None:
        self._devices_loaded = False

    def root_paths(self) -> CgroupPaths:
        """The root cgroup (cAdvisor's ``id="/"``): the machine as a whole."""
        if self.version == 2:
            return CgroupPaths(2, {"": self.cgroup_root})
        return CgroupPaths(1, dict(self.hierarchies))

    def read(self, paths: CgroupPaths, time: float, monotonic: float, files: ContainerFiles | None = None,
             pid: int = 0) -> Sample:
        """One reading of every counter this host has for the container.

        Args:
            paths: where its files are (``locate``).
            time, monotonic: the reading's clocks.
            files: the container's open files, kept between reads (None: plain reads, nothing kept).
            pid: a process of the container, whose network namespace gives the network counters (0: none).

        Raises:
            ContainerGone: the container's cgroup (or its process) no longer exists.
        """
        own = files is None
        f = OneShotFiles() if files is None else files
        refresh = own or f.sweeps % REFRESH_EVERY == 0 or not f.slow
        if refresh and not own:
            f.forget_missing()
        f.sweeps += 1
        network = None
        if pid > 0:
            path = os.path.join(self.proc_root, str(pid), "net", "dev")
            text = f.read(path)
            if text is None:
                raise ContainerGone(f"process {pid} is gone")
            network = f.parsed(path, text, _net_dev)
        if paths.version == 2:
            return read_v2(self, paths.dirs[""], time, monotonic, f, refresh, network)
        return self._read_v1(paths, time, monotonic, f, refresh, network)

    # -- cgroup v1 -----------------------------------------------------------------------
    def _read_v1(self, paths: CgroupPaths, time: float, monotonic: float, f: ContainerFiles,
                 refresh: bool, network: tuple[InterfaceCounters, ...] | None) -> Sample:
        cpuacct = paths.dir("cpuacct")
        mem = paths.dir("memory")
        if cpuacct is None or mem is None:
            raise ContainerGone(f"cgroup {mem} is gone")
        usage_text = f.read(mem + "/memory.usage_in_bytes")
        if usage_text is None:
            raise ContainerGone(f"cgroup {mem} is gone")
        cpu_text = f.read(cpuacct + ("/cpuacct.usage_percpu" if self.percpu else "/cpuacct.usage"))
        if cpu_text is not None and f.unchanged((usage_text, cpu_text, network), refresh):
            return sample_at(cast(Sample, f.last), time, monotonic)
        usage = f.parsed("usage", usage_text, to_int)
        if usage is None:
            raise ContainerGone(f"cgroup {mem} is gone")
        percpu = f.parsed("percpu", cpu_text, parse_percpu) if self.percpu else None
        # cpuacct.usage is the sum of the per-CPU figures: one read fewer when those are read anyway
        usage_ns: int | None = (sum(percpu) if percpu else
                                f.parsed("ns", cpu_text if not self.percpu else f.read(cpuacct + "/cpuacct.usage"),
                                         to_int))
        ticks = f.parsed("ticks", f.read(cpuacct + "/cpuacct.stat"), self.cpuacct_stat.pick)
        stat = f.parsed("stat", f.read(mem + "/memory.stat"), self.memory_stat.pick)
        pids_dir = paths.dir("pids")
        threads = f.parsed("threads", f.read(pids_dir + "/pids.current"), to_int) if pids_dir is not None else None
        if refresh:
            f.slow = self._slow_v1(paths, f)
        slow = f.slow
        cpu = paths.dir("cpu")
        # Without a quota the CFS counters stand still (the kernel counts periods only under a quota): read
        # them on the slow refresh, which is also when a quota set by ``docker update`` is seen.
        cfs = slow.get("cfs")
        if not isinstance(cfs, dict) or refresh or slow.get("cpu_quota") != 0:
            cfs = f.parsed("cfs", f.read(cpu + "/cpu.stat"), self.cpu_stat.pick) if cpu is not None else {}
            slow["cfs"] = cfs
        blkio = paths.dir("blkio")
        prefix = slow.get("blkio_prefix")
        block_io = self._blkio_v1(blkio, str(prefix), f) if blkio is not None and prefix else slow.get("block_io")
        # Each value above is the very object of the last sweep while its file read the same: then so are the
        # sample's values, and only its clocks are new.
        parts = (usage, percpu, usage_ns, ticks, stat, threads, slow, cfs, block_io, network)
        built = f.built
        if built is not None and built[0] == parts:
            f.last = sample = Sample(time, monotonic, **built[1])  # type: ignore[arg-type]
            return sample
        values = self._v1_values(usage, percpu, usage_ns, ticks, stat, threads, slow, cfs, block_io, network)
        f.built = (parts, values)
        f.last = sample = Sample(time, monotonic, **values)  # type: ignore[arg-type]
        return sample

    @staticmethod
    def _v1_values(usage: int, percpu: tuple[int, ...] | None, usage_ns: int | None, ticks: Mapping[str, int],
                   stat: Mapping[str, int], threads: int | None, slow: Mapping[str, object],
                   cfs: Mapping[str, int], block_io: object,
                   network: tuple[InterfaceCounters, ...] | None) -> dict[str, object]:
        fields = slow["fields"]
        assert isinstance(fields, dict)
        return dict(
            cpu_usage_seconds=None if usage_ns is None else usage_ns / NS,
            cpu_user_seconds=ticks["user"] / USER_HZ if "user" in ticks else None,
            cpu_system_seconds=ticks["system"] / USER_HZ if "system" in ticks else None,
            cpu_cfs_periods=cfs.get("nr_periods"),
            cpu_cfs_throttled_periods=cfs.get("nr_throttled"),
            cpu_cfs_throttled_seconds=cfs["throttled_time"] / NS if "throttled_time" in cfs else None,
            cpu_cfs_burst_periods=cfs.get("nr_bursts"),
            cpu_cfs_burst_seconds=cfs["burst_time"] / NS if "burst_time" in cfs else None,
            cpu_percpu_seconds=None if percpu is None else tuple(ns / NS for ns in percpu),
            memory_usage_bytes=usage,
            memory_working_set_bytes=_working_set(usage, stat.get("total_inactive_file")),
            memory_rss_bytes=stat.get("total_rss"),
            memory_cache_bytes=stat.get("total_cache"),
            memory_swap_bytes=stat.get("total_swap"),
            memory_mapped_file_bytes=stat.get("total_mapped_file"),
            memory_active_file_bytes=stat.get("total_active_file"),
            memory_inactive_file_bytes=stat.get("total_inactive_file"),
            memory_dirty_bytes=stat.get("total_dirty"),
            memory_writeback_bytes=stat.get("total_writeback"),
            memory_pgfault=stat.get("pgfault"),
            memory_pgmajfault=stat.get("pgmajfault"),
            memory_hierarchy_pgfault=stat.get("total_pgfault"),
            memory_hierarchy_pgmajfault=stat.get("total_pgmajfault"),
            threads=threads,
            block_io=block_io if isinstance(block_io, tuple) else None,
            network=network,
            **fields,
        )

    def _slow_v1(self, paths: CgroupPaths, f: ContainerFiles) -> dict[str, object]:
        """What changes seldom: the limits (``docker update``), the peak, failcnt, kernel memory, the OOM
        count, the process count, and which blkio statistics this host keeps."""
        mem = paths.dir("memory") or ""
        cpu = paths.dir("cpu")
        pids_dir = paths.dir("pids")
        quota = f.read_int(cpu + "/cpu.cfs_quota_us") if cpu else None
        processes = count_lines(f.read(pids_dir + "/cgroup.procs")) if pids_dir else None
        out: dict[str, object] = {
            "memory_limit": unlimited_as_zero(f.read_int(mem + "/memory.limit_in_bytes")),
            "memory_reservation": unlimited_as_zero(f.read_int(mem + "/memory.soft_limit_in_bytes")),
            "memory_swap": unlimited_as_zero(f.read_int(mem + "/memory.memsw.limit_in_bytes")),
            "cpu_quota": None if quota is None else max(0, quota),
            "cpu_period": f.read_int(cpu + "/cpu.cfs_period_us") if cpu else None,
            "cpu_shares": f.read_int(cpu + "/cpu.shares") if cpu else None,
            "threads_max": max_or_int(f.read(pids_dir + "/pids.max")) if pids_dir else None,
            "max_usage": f.read_int(mem + "/memory.max_usage_in_bytes"),
            "failcnt": f.read_int(mem + "/memory.failcnt"),
            "kernel": f.read_int(mem + "/memory.kmem.usage_in_bytes"),
            "oom_kill": parse_flat_keyed(f.read(mem + "/memory.oom_control")).get("oom_kill"),
            "processes": processes if processes is not None else count_lines(f.read(mem + "/cgroup.procs")),
        }
        out["fields"] = {field: _opt_int(out.get(key)) for field, key in _V1_SLOW_FIELDS}
        blkio = paths.dir("blkio")
        if blkio is not None:
            found = False
            for prefix in V1_BLKIO_PREFIXES:
                text = f.read(blkio + "/" + prefix + "io_service_bytes_recursive")
                if text is None:
                    continue
                found = True
                if parse_blkio_v1(text):
                    out["blkio_prefix"] = prefix
                    break
            if "blkio_prefix" not in out:
                out["block_io"] = () if found else None
        return out

    def _blkio_v1(self, blkio: str, prefix: str, f: ContainerFiles) -> tuple[DeviceIO, ...]:
        def stat(name: str) -> dict[str, dict[str, int]]:
            return parse_blkio_v1(f.read(os.path.join(blkio, prefix + name)))

        by_bytes = stat("io_service_bytes_recursive")
        by_ops = stat("io_serviced_recursive")
        more = prefix != "blkio.throttle."
        empty: dict[str, dict[str, int]] = {}
        service = stat("io_service_time_recursive") if more else empty
        wait = stat("io_wait_time_recursive") if more else empty
        merged = stat("io_merged_recursive") if more else empty
        queued = stat("io_queued_recursive") if more else empty
        io_time = stat("time_recursive") if more else empty
        out = []
        for key, values in sorted(by_bytes.items()):
            major, _, minor = key.partition(":")
            ops = by_ops.get(key, {})
            svc, wt, mrg, q = service.get(key), wait.get(key), merged.get(key), queued.get(key)
            t = io_time.get(key)
            out.append(DeviceIO(
                self.device_name(key), values.get("read", 0), values.get("write", 0), ops.get("read", 0),
                ops.get("write", 0), int(major) if major.isdigit() else -1, int(minor) if minor.isdigit() else -1,
                read_seconds=svc.get("read", 0) / NS if svc else None,
                write_seconds=svc.get("write", 0) / NS if svc else None,
                reads_merged=mrg.get("read", 0) if mrg else None,
                writes_merged=mrg.get("write", 0) if mrg else None,
                io_current=q.get("total", 0) if q else None,
                io_time_seconds=t.get("count", 0) / 1000 if t else None,
                io_weighted_seconds=wt.get("total", 0) / NS if wt else None,
                bytes_by_op=tuple((op.capitalize(), n) for op, n in values.items()),
            ))
        return tuple(out)


_V1_SLOW_FIELDS = (
    ("memory_max_usage_bytes", "max_usage"), ("memory_failcnt", "failcnt"), ("memory_kernel_bytes", "kernel"),
    ("oom_events", "oom_kill"), ("processes", "processes"), ("threads_max", "threads_max"),
    ("spec_memory_limit_bytes", "memory_limit"), ("spec_memory_reservation_bytes", "memory_reservation"),
    ("spec_memory_swap_limit_bytes", "memory_swap"), ("spec_cpu_quota_us", "cpu_quota"),
    ("spec_cpu_period_us", "cpu_period"), ("spec_cpu_shares", "cpu_shares"),
)
"""Sample fields from the slow refresh, and their keys in it."""


def _net_dev(text: str | None) -> tuple[InterfaceCounters, ...]:
    return parse_net_dev(text or "")


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) else None
