"""The backend for a local engine: cgroup files and ``/proc``, no engine call at all.

Besides each container's counters (``CgroupReader``, through descriptors kept open per container),
it reads what cAdvisor reports with ``--docker_only``: the root cgroup (``id="/"``), the machine,
and on a slow schedule of its own thread the disk usage of each container's writable layer and
of the machine's filesystems, and the containers' task states. The slow thread is paced
(``DiskWalker``) so a large layer costs time, not a core.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

from observe.model import CgroupLocation, ContainerInfo, ServiceGroup
from observe.stats.cgroup import CgroupPaths, CgroupReader
from observe.stats.cgroupfs import ContainerFiles, parse_flat_keyed, raise_open_file_limit, read_file
from observe.stats.host import (
    ROOT_ID,
    DiskWalker,
    FsUsage,
    MachineInfo,
    Mount,
    device_of,
    fs_capacity,
    machine_filesystems,
    parse_meminfo,
    parse_mountinfo,
    read_machine,
    task_states,
)
from observe.stats.sample import ContainerGone, Sample
from observe.stats.snapshot import ContainerStats

log = logging.getLogger(__name__)
TASKS_EVERY = 10.0  # seconds between two counts of task states (and machine re-reads)


def boot_time(proc_root: str) -> datetime | None:
    """When the machine booted, from ``/proc/stat``'s ``btime``."""
    btime = parse_flat_keyed(read_file(os.path.join(proc_root, "stat"))).get("btime")
    return None if btime is None else datetime.fromtimestamp(btime, UTC)


def root_container(version: int, driver: str, booted: datetime | None) -> ContainerInfo:
    """The machine as a container: cAdvisor's root cgroup, ``id="/"``, no name, no image."""
    return ContainerInfo(
        id=ROOT_ID, name="", image="", image_name="", image_tag="", image_id="", state="running", health="",
        exit_code=0, restart_count=0, created=booted, started_at=booted, finished_at=None, labels={},
        log_driver="", log_path="", tty=False, pid=0, cgroup=CgroupLocation("", driver, version),
        service=ServiceGroup("", "container"), memory_limit=0, nano_cpus=0, cpu_quota=0, cpu_period=0,
        cpu_shares=0, raw=MappingProxyType({}),
    )


class CgroupBackend:
    """Samples read from the cgroup filesystem and ``/proc/<pid>/net/dev``.

    Args:
        reader: the host's cgroup reader.
        disk_interval: seconds between two measures of a container's writable layer (0: never).
        walker: measures directory trees, paced.
        etc_root: where the host's ``/etc`` is (``machine-id``).
    """

    name = "cgroup"

    def __init__(self, reader: CgroupReader, disk_interval: float = 60.0, walker: DiskWalker | None = None,
                 etc_root: str = "/etc", cgroup_driver: str = "cgroupfs") -> None:
        self.reader = reader
        raise_open_file_limit()
        self.disk_interval = disk_interval
        self.walker = walker or DiskWalker()
        self.etc_root = etc_root
        self._paths: dict[str, tuple[int, CgroupPaths, ContainerFiles]] = {}
        self._root_files = ContainerFiles()
        self._root_info = root_container(reader.version, cgroup_driver, boot_time(reader.proc_root))
        self._lock = threading.Lock()
        self._containers: dict[str, ContainerInfo] = {}
        self._fs: dict[str, tuple[float, tuple[FsUsage, ...]]] = {}
        self._tasks: dict[str, tuple[tuple[str, int], ...]] = {}
        self._machine: MachineInfo | None = None
        self._root_fs: tuple[FsUsage, ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the sweep's side ------------------------------------------------------------------
    def track(self, container: ContainerInfo) -> None:
        known = self._paths.get(container.id)
        if known is None or known[0] != container.pid:
            if known is not None:
                known[2].close()
            self._paths[container.id] = (container.pid, self.reader.locate(container.cgroup, container.pid),
                                         ContainerFiles())
            with self._lock:
                self._containers[container.id] = container

    def untrack(self, container_id: str) -> None:
        known = self._paths.pop(container_id, None)
        if known is not None:
            known[2].close()
        with self._lock:
            self._containers.pop(container_id, None)
            self._fs.pop(container_id, None)
            self._tasks.pop(container_id, None)

    def paths(self, container_id: str) -> CgroupPaths | None:
        known = self._paths.get(container_id)
        return None if known is None else known[1]

    def open_files(self) -> int:
        """Descriptors held open across all containers."""
        return sum(k[2].open_count() for k in self._paths.values()) + self._root_files.open_count()

    def read(self, container: ContainerInfo, time: float, monotonic: float) -> Sample | None:
        self.track(container)
        _, paths, files = self._paths[container.id]
        return self.reader.read(paths, time, monotonic, files, container.pid)

    def slow(self, container_id: str) -> tuple[tuple[FsUsage, ...] | None, tuple[tuple[str, int], ...] | None]:
        """The latest disk usage and task states of a container (None: not measured yet)."""
        with self._lock:
            fs = self._fs.get(container_id)
            return (None if fs is None else fs[1]), self._tasks.get(container_id)

    def root(self, time: float, monotonic: float) -> ContainerStats | None:
        """The root cgroup's reading (machine-wide counters, host interfaces, the machine's filesystems)."""
        self._start_slow()
        paths = self.reader.root_paths()
        try:
            sample = self.reader.read(paths, time, monotonic, self._root_files, 1)
        except ContainerGone:  # no /proc/1 in our view: the host's interfaces are out of reach
            try:
                sample = self.reader.read(paths, time, monotonic, self._root_files)
            except ContainerGone:
                return None
        if sample.memory_usage_bytes is None:  # v2 keeps no memory.current at the root
            mem = parse_meminfo(self._root_files.read(os.path.join(self.reader.proc_root, "meminfo")))
            if "MemTotal" in mem and "MemFree" in mem:
                usage = mem["MemTotal"] - mem["MemFree"]
                working = max(0, usage - (sample.memory_inactive_file_bytes or 0))
                sample = replace(sample, memory_usage_bytes=usage, memory_working_set_bytes=working)
        with self._lock:
            return ContainerStats(self._root_info, sample, (sample,), self._root_fs)

    def machine(self) -> MachineInfo | None:
        with self._lock:
            return self._machine

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        for _, _, files in self._paths.values():
            files.close()
        self._paths.clear()
        self._root_files.close()

    # -- the slow thread -------------------------------------------------------------------
    def _start_slow(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._machine = read_machine(self.reader.proc_root, self.etc_root)
            self._thread = threading.Thread(target=self._run_slow, name="observe-stats-slow", daemon=True)
            self._thread.start()

    def _run_slow(self) -> None:
        while not self._stop.is_set():
            try:
                self.slow_round(time.monotonic())
            except Exception:  # the slow figures must not end on one bad tree
                log.exception("slow stats round failed", extra={"event": "StatsSlowRoundFailed"})
            self._stop.wait(TASKS_EVERY)

    def slow_round(self, now: float) -> None:
        """Task states of every container, the machine, and the disk usage of the layers that are due."""
        proc = self.reader.proc_root
        with self._lock:
            containers = dict(self._containers)
        machine = read_machine(proc, self.etc_root)
        mounts = parse_mountinfo(read_file(os.path.join(proc, "1", "mountinfo"))
                                 or read_file(os.path.join(proc, "self", "mountinfo")))
        root_fs = tuple(machine_filesystems(mounts))
        tasks = {cid: task_states(proc, self._pids(cid)) for cid in containers}
        with self._lock:
            self._machine, self._root_fs = machine, root_fs
            self._tasks.update({cid: t for cid, t in tasks.items() if cid in self._containers})
            due = [c for cid, c in containers.items() if self.disk_interval > 0
                   and now - self._fs.get(cid, (-1e18, ()))[0] >= self.disk_interval]
        for c in due:
            if self._stop.is_set():
                return
            usage = self.layer_usage(c, mounts)
            with self._lock:
                if c.id in self._containers:
                    self._fs[c.id] = (now, usage)

    def _pids(self, container_id: str) -> list[int]:
        paths = self.paths(container_id)
        d = None if paths is None else (paths.dir("pids") or paths.dir("memory"))
        text = read_file(os.path.join(d, "cgroup.procs")) if d else None
        return [int(p) for p in (text or "").split() if p.isdigit()]

    def layer_usage(self, c: ContainerInfo, mounts: Sequence[Mount]) -> tuple[FsUsage, ...]:
        """The container's writable layer (overlay2's upper directory) and the filesystem holding it."""
        upper = _upper_dir(c.raw)
        if not upper:
            return ()
        found = self.walker.usage(upper, self._stop.is_set)
        if found is None:
            return ()
        used, _, partial = found
        device, mount = device_of(upper, mounts)
        cap = fs_capacity(mount.mount_point if mount else upper)
        size, free, total = (cap[0], cap[1], cap[2]) if cap else (0, None, None)
        return (FsUsage(device, used, size, free, total, partial),)


def _upper_dir(raw: Mapping[str, object]) -> str:
    driver = raw.get("GraphDriver") if raw else None
    data = driver.get("Data") if isinstance(driver, Mapping) else None
    upper = data.get("UpperDir") if isinstance(data, Mapping) else None
    return upper if isinstance(upper, str) else ""
