"""Reading a container's counters straight from the cgroup filesystem: the fast path for a local engine.

Pure readers: the cgroup root and the proc root are parameters, so tests point them at file
trees shaped like real hosts. cgroup v1 keeps each controller in its own hierarchy
(``<root>/cpuacct/docker/<id>``, possibly co-mounted as ``cpu,cpuacct``); cgroup v2 has one
unified tree (``<root>/system.slice/docker-<id>.scope``). The figures and their derivations follow
cAdvisor and runc so that dashboards built on cAdvisor mean the same thing here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from observe.model import CgroupLocation
from observe.stats.sample import ContainerGone, DeviceIO, Sample, unlimited_as_zero

V1_CONTROLLERS = ("cpuacct", "cpu", "memory", "blkio", "pids")
# runc's order: the first of these pairs whose bytes file names a device is used.
V1_BLKIO_FILES = (
    ("blkio.bfq.io_service_bytes_recursive", "blkio.bfq.io_serviced_recursive"),
    ("blkio.io_service_bytes_recursive", "blkio.io_serviced_recursive"),
    ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"),
)
NS = 1e9
USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def read_file(path: str) -> str | None:
    """The file's text, or None when it does not exist (a controller or file this host lacks)."""
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("ascii", "replace")
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_int(path: str) -> int | None:
    """A file holding one integer; None when missing or not a number."""
    text = read_file(path)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def parse_flat_keyed(text: str | None) -> dict[str, int]:
    """``key value`` lines (``memory.stat``, ``cpu.stat``, ``memory.events``) as a dict; junk lines skipped."""
    out: dict[str, int] = {}
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def parse_nested_keyed(text: str | None) -> dict[str, dict[str, int]]:
    """cgroup v2 ``io.stat``: ``8:0 rbytes=1 wbytes=2 rios=3 wios=4`` per device."""
    out: dict[str, dict[str, int]] = {}
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        values: dict[str, int] = {}
        for part in parts[1:]:
            key, sep, value = part.partition("=")
            if sep and value.isdigit():
                values[key] = int(value)
        out[parts[0]] = values
    return out


def parse_blkio_v1(text: str | None) -> dict[str, dict[str, int]]:
    """cgroup v1 ``blkio.*io_service*``: ``8:0 Read 4096`` lines by device then operation (lower case)."""
    out: dict[str, dict[str, int]] = {}
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0] and parts[2].isdigit():
            out.setdefault(parts[0], {})[parts[1].lower()] = int(parts[2])
    return out


def parse_partitions(text: str | None) -> dict[str, str]:
    """``/proc/partitions`` as ``{"8:0": "/dev/sda"}``: how cAdvisor names the ``device`` label."""
    out: dict[str, str] = {}
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
            out[f"{parts[0]}:{parts[1]}"] = "/dev/" + parts[3]
    return out


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


def cpu_weight_to_shares(weight: int) -> int:
    """cgroup v2 ``cpu.weight`` back to v1 shares, inverting runc's conversion (as cAdvisor does)."""
    return 2 + ((weight - 1) * 262142) // 9999


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
    """

    def __init__(self, cgroup_root: str, version: int, proc_root: str = "/proc") -> None:
        self.cgroup_root = cgroup_root
        self.version = version
        self.proc_root = proc_root
        self.hierarchies = v1_hierarchies(cgroup_root) if version == 1 else {}
        self._devices: dict[str, str] = {}
        self._devices_loaded = False

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

    def read(self, paths: CgroupPaths, time: float, monotonic: float) -> Sample:
        """One reading of every counter this host has for the container.

        Raises:
            ContainerGone: the container's cgroup no longer exists.
        """
        if paths.version == 2:
            return self._read_v2(paths.dirs[""], time, monotonic)
        return self._read_v1(paths, time, monotonic)

    # -- cgroup v1 -----------------------------------------------------------------------
    def _read_v1(self, paths: CgroupPaths, time: float, monotonic: float) -> Sample:
        cpuacct = paths.dir("cpuacct")
        mem = paths.dir("memory")
        if cpuacct is None or mem is None or not os.path.isdir(mem):
            raise ContainerGone(f"cgroup {mem} is gone")
        usage_ns = read_int(os.path.join(cpuacct, "cpuacct.usage"))
        ticks = parse_flat_keyed(read_file(os.path.join(cpuacct, "cpuacct.stat")))
        cpu = paths.dir("cpu")
        cfs: dict[str, int] = {}
        quota = period = shares = None
        if cpu is not None:
            cfs = parse_flat_keyed(read_file(os.path.join(cpu, "cpu.stat")))
            quota = read_int(os.path.join(cpu, "cpu.cfs_quota_us"))
            period = read_int(os.path.join(cpu, "cpu.cfs_period_us"))
            shares = read_int(os.path.join(cpu, "cpu.shares"))
        usage = read_int(os.path.join(mem, "memory.usage_in_bytes"))
        if usage is None:
            raise ContainerGone(f"cgroup {mem} is gone")
        stat = parse_flat_keyed(read_file(os.path.join(mem, "memory.stat")))
        oom = parse_flat_keyed(read_file(os.path.join(mem, "memory.oom_control")))
        limit = read_int(os.path.join(mem, "memory.limit_in_bytes"))
        pids_dir = paths.dir("pids")
        threads = threads_max = processes = None
        if pids_dir is not None:
            threads = read_int(os.path.join(pids_dir, "pids.current"))
            threads_max = _max_or_int(read_file(os.path.join(pids_dir, "pids.max")))
            processes = _count_lines(read_file(os.path.join(pids_dir, "cgroup.procs")))
        if processes is None:
            processes = _count_lines(read_file(os.path.join(mem, "cgroup.procs")))
        return Sample(
            time=time,
            monotonic=monotonic,
            cpu_usage_seconds=None if usage_ns is None else usage_ns / NS,
            cpu_user_seconds=ticks["user"] / USER_HZ if "user" in ticks else None,
            cpu_system_seconds=ticks["system"] / USER_HZ if "system" in ticks else None,
            cpu_cfs_periods=cfs.get("nr_periods"),
            cpu_cfs_throttled_periods=cfs.get("nr_throttled"),
            cpu_cfs_throttled_seconds=cfs["throttled_time"] / NS if "throttled_time" in cfs else None,
            memory_usage_bytes=usage,
            memory_working_set_bytes=_working_set(usage, stat.get("total_inactive_file")),
            memory_rss_bytes=stat.get("total_rss"),
            memory_cache_bytes=stat.get("total_cache"),
            memory_swap_bytes=stat.get("total_swap"),
            memory_mapped_file_bytes=stat.get("total_mapped_file"),
            memory_max_usage_bytes=read_int(os.path.join(mem, "memory.max_usage_in_bytes")),
            memory_failcnt=read_int(os.path.join(mem, "memory.failcnt")),
            oom_events=oom.get("oom_kill"),
            processes=processes,
            threads=threads,
            threads_max=threads_max,
            spec_memory_limit_bytes=unlimited_as_zero(limit),
            spec_cpu_quota_us=None if quota is None else max(0, quota),
            spec_cpu_period_us=period,
            spec_cpu_shares=shares,
            block_io=self._blkio_v1(paths.dir("blkio")),
        )

    def _blkio_v1(self, blkio: str | None) -> tuple[DeviceIO, ...] | None:
        if blkio is None:
            return None
        found = False
        for bytes_file, ops_file in V1_BLKIO_FILES:
            text = read_file(os.path.join(blkio, bytes_file))
            if text is None:
                continue
            found = True
            by_bytes = parse_blkio_v1(text)
            if not by_bytes:
                continue
            by_ops = parse_blkio_v1(read_file(os.path.join(blkio, ops_file)))
            return tuple(
                DeviceIO(
                    self.device_name(key),
                    values.get("read", 0),
                    values.get("write", 0),
                    by_ops.get(key, {}).get("read", 0),
                    by_ops.get(key, {}).get("write", 0),
                )
                for key, values in sorted(by_bytes.items())
            )
        return () if found else None

    # -- cgroup v2 -----------------------------------------------------------------------
    def _read_v2(self, d: str, time: float, monotonic: float) -> Sample:
        cpu = parse_flat_keyed(read_file(os.path.join(d, "cpu.stat")))
        usage = read_int(os.path.join(d, "memory.current"))
        if not cpu and usage is None and not os.path.isdir(d):
            raise ContainerGone(f"cgroup {d} is gone")
        stat = parse_flat_keyed(read_file(os.path.join(d, "memory.stat")))
        events = parse_flat_keyed(read_file(os.path.join(d, "memory.events")))
        quota, period = _cpu_max(read_file(os.path.join(d, "cpu.max")))
        weight = read_int(os.path.join(d, "cpu.weight"))
        peak = read_int(os.path.join(d, "memory.peak"))
        io = parse_nested_keyed(read_file(os.path.join(d, "io.stat")))
        procs_text = read_file(os.path.join(d, "cgroup.procs"))
        has_io = os.path.exists(os.path.join(d, "io.stat"))
        return Sample(
            time=time,
            monotonic=monotonic,
            cpu_usage_seconds=cpu["usage_usec"] / 1e6 if "usage_usec" in cpu else None,
            cpu_user_seconds=cpu["user_usec"] / 1e6 if "user_usec" in cpu else None,
            cpu_system_seconds=cpu["system_usec"] / 1e6 if "system_usec" in cpu else None,
            cpu_cfs_periods=cpu.get("nr_periods"),
            cpu_cfs_throttled_periods=cpu.get("nr_throttled"),
            cpu_cfs_throttled_seconds=cpu["throttled_usec"] / 1e6 if "throttled_usec" in cpu else None,
            memory_usage_bytes=usage,
            memory_working_set_bytes=_working_set(usage, stat.get("inactive_file")),
            memory_rss_bytes=stat.get("anon"),
            memory_cache_bytes=stat.get("file"),
            memory_swap_bytes=read_int(os.path.join(d, "memory.swap.current")),
            memory_mapped_file_bytes=stat.get("file_mapped"),
            memory_max_usage_bytes=peak,
            memory_failcnt=events.get("max"),
            oom_events=events.get("oom_kill"),
            processes=_count_lines(procs_text),
            threads=read_int(os.path.join(d, "pids.current")),
            threads_max=_max_or_int(read_file(os.path.join(d, "pids.max"))),
            spec_memory_limit_bytes=_v2_limit(read_file(os.path.join(d, "memory.max"))),
            spec_cpu_quota_us=quota,
            spec_cpu_period_us=period,
            spec_cpu_shares=None if weight is None else cpu_weight_to_shares(weight),
            block_io=tuple(
                DeviceIO(self.device_name(key), v.get("rbytes", 0), v.get("wbytes", 0), v.get("rios", 0),
                         v.get("wios", 0))
                for key, v in sorted(io.items())
            ) if has_io else None,
        )


def _count_lines(text: str | None) -> int | None:
    if text is None:
        return None
    return sum(1 for line in text.splitlines() if line.strip())


def _max_or_int(text: str | None) -> int | None:
    """``pids.max``: ``max`` is no limit, reported as 0 like runc does."""
    if text is None:
        return None
    value = text.strip()
    if value == "max":
        return 0
    return int(value) if value.isdigit() else None


def _v2_limit(text: str | None) -> int | None:
    if text is None:
        return None
    value = text.strip()
    if value == "max":
        return 0
    return unlimited_as_zero(int(value)) if value.isdigit() else None


def _cpu_max(text: str | None) -> tuple[int | None, int | None]:
    """cgroup v2 ``cpu.max``: ``"20000 100000"`` or ``"max 100000"`` (no quota: 0)."""
    if text is None:
        return None, None
    parts = text.split()
    if len(parts) != 2 or not parts[1].isdigit():
        return None, None
    quota = 0 if parts[0] == "max" else int(parts[0]) if parts[0].isdigit() else None
    return quota, int(parts[1])
