"""The machine and the slow figures: what cAdvisor reports as ``machine_*``, disk usage, task states.

Pure readers over outside roots (``proc_root``, the paths given): tests point them at file trees.
Disk usage walks a directory tree, which can be large, so ``DiskWalker`` paces itself: after each
batch of entries it sleeps long enough to stay under a share of one core, and it gives up on a tree
after ``max_entries`` (the figure is then a lower bound, flagged ``partial``). The sampler runs
these on a thread of its own on a schedule much slower than the counters' sweep.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from observe.stats.cgroupfs import read_file

ROOT_ID = "/"
"""The id of the root cgroup's pseudo-container (the machine), as cAdvisor's ``id`` label has it."""
# /proc/<tid>/stat state letters -> cAdvisor's container_tasks_state ``state`` label.
TASK_STATES = {"R": "running", "S": "sleeping", "D": "uninterruptible", "T": "stopped", "t": "stopped",
               "I": "sleeping"}
TASK_STATE_NAMES = ("sleeping", "running", "stopped", "uninterruptible", "iowaiting")


@dataclass(frozen=True, slots=True)
class MachineInfo:
    """The host as ``machine_*`` describes it; ids are "" when this host does not tell."""

    cpu_cores: int
    cpu_physical_cores: int
    cpu_sockets: int
    memory_bytes: int
    swap_bytes: int
    boot_id: str = ""
    machine_id: str = ""
    system_uuid: str = ""


@dataclass(frozen=True, slots=True)
class FsUsage:
    """Disk usage on one filesystem: ``usage_bytes`` used by the container (its writable layer) or, for
    the root cgroup, by the whole filesystem; ``limit_bytes`` the filesystem's size."""

    device: str
    usage_bytes: int
    limit_bytes: int
    inodes_free: int | None = None
    inodes_total: int | None = None
    partial: bool = False


def parse_meminfo(text: str | None) -> dict[str, int]:
    """``/proc/meminfo`` as bytes by key (``MemTotal`` ...)."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def parse_cpuinfo(text: str | None) -> tuple[int, int, int]:
    """(logical CPUs, physical cores, sockets) from ``/proc/cpuinfo``; hosts without topology count 1 socket."""
    logical = 0
    cores: set[tuple[str, str]] = set()
    sockets: set[str] = set()
    physical = core = ""
    for line in [*(text or "").splitlines(), ""]:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor":
            logical += 1
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        elif not key:
            if physical or core:
                cores.add((physical, core))
                sockets.add(physical)
            physical = core = ""
    return logical, len(cores) or logical, len(sockets) or (1 if logical else 0)


def read_machine(proc_root: str, etc_root: str = "/etc", sys_root: str = "/sys") -> MachineInfo:
    """The machine's CPUs, memory, swap and ids."""
    mem = parse_meminfo(read_file(os.path.join(proc_root, "meminfo")))
    logical, physical, sockets = parse_cpuinfo(read_file(os.path.join(proc_root, "cpuinfo")))

    def first_line(path: str) -> str:
        text = read_file(path)
        return text.strip() if text else ""

    return MachineInfo(
        cpu_cores=logical or (os.cpu_count() or 0),
        cpu_physical_cores=physical or (os.cpu_count() or 0),
        cpu_sockets=sockets or 1,
        memory_bytes=mem.get("MemTotal", 0),
        swap_bytes=mem.get("SwapTotal", 0),
        boot_id=first_line(os.path.join(proc_root, "sys", "kernel", "random", "boot_id")),
        machine_id=first_line(os.path.join(etc_root, "machine-id")),
        system_uuid=first_line(os.path.join(sys_root, "class", "dmi", "id", "product_uuid")),
    )


@dataclass(frozen=True, slots=True)
class Mount:
    """One line of ``mountinfo``: device number, mount point, filesystem type and source."""

    dev: int
    mount_point: str
    fstype: str
    source: str


def parse_mountinfo(text: str | None) -> list[Mount]:
    """``/proc/<pid>/mountinfo`` lines (``36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw``)."""
    out = []
    for line in (text or "").splitlines():
        left, sep, right = line.partition(" - ")
        a, b = left.split(), right.split()
        if not sep or len(a) < 5 or len(b) < 2:
            continue
        major, _, minor = a[2].partition(":")
        if not (major.isdigit() and minor.isdigit()):
            continue
        point = a[4].replace("\\040", " ")
        out.append(Mount(os.makedev(int(major), int(minor)), point, b[0], b[1]))
    return out


def device_of(path: str, mounts: Sequence[Mount]) -> tuple[str, Mount | None]:
    """The device name cAdvisor gives the filesystem holding ``path`` (the mount source), and its mount."""
    try:
        dev = os.stat(path).st_dev
    except OSError:
        return "", None
    for m in mounts:
        if m.dev == dev:
            return m.source, m
    return f"{os.major(dev)}:{os.minor(dev)}", None


def fs_capacity(mount_point: str) -> tuple[int, int | None, int | None, int] | None:
    """(size bytes, free inodes, total inodes, used bytes) of the filesystem mounted at ``mount_point``."""
    try:
        st = os.statvfs(mount_point)
    except OSError:
        return None
    size = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return size, (st.f_ffree if st.f_files else None), (st.f_files or None), used


# Filesystems cAdvisor counts for the machine: real block devices, not pseudo or network ones.
ROOT_FS_TYPES = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat", "overlay"})


def machine_filesystems(mounts: Iterable[Mount], path_prefix: str = "") -> list[FsUsage]:
    """Usage of each block-device filesystem once (the root cgroup's ``container_fs_*``)."""
    seen: set[str] = set()
    out = []
    for m in mounts:
        if m.fstype not in ROOT_FS_TYPES or not m.source.startswith("/dev/") or m.source in seen:
            continue
        cap = fs_capacity(path_prefix + m.mount_point)
        if cap is None:
            continue
        seen.add(m.source)
        size, free, total, used = cap
        out.append(FsUsage(m.source, used, size, free, total))
    return out


class DiskWalker:
    """Sums the disk usage of directory trees without taking more than ``cpu_share`` of a core.

    Args:
        cpu_share: the most of one core a walk may use (0.05: it sleeps 19x as long as it works).
        max_entries: a tree with more entries than this is counted only that far (``partial``).
        batch: entries between two pauses.
        sleep, clock: injected for tests.
    """

    def __init__(self, cpu_share: float = 0.05, max_entries: int = 200_000, batch: int = 500,
                 sleep: Callable[[float], object] = time.sleep,
                 clock: Callable[[], float] = time.thread_time) -> None:
        self.cpu_share = cpu_share
        self.max_entries = max_entries
        self.batch = batch
        self.sleep = sleep
        self.clock = clock

    def usage(self, root: str, stop: Callable[[], bool] = lambda: False) -> tuple[int, int, bool] | None:
        """(bytes on disk, entries, partial) of the tree at ``root``, hard links counted once; None if absent."""
        try:
            os.lstat(root)
        except OSError:
            return None
        total = entries = 0
        seen_links: set[tuple[int, int]] = set()
        stack = [root]
        started = self.clock()
        while stack:
            if stop():
                return total, entries, True
            path = stack.pop()
            try:
                it = os.scandir(path)
            except OSError:
                continue
            with it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    entries += 1
                    if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                        key = (st.st_dev, st.st_ino)
                        if key in seen_links:
                            continue
                        seen_links.add(key)
                    total += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
                    if entries >= self.max_entries:
                        return total, entries, True
                    if entries % self.batch == 0:
                        worked = self.clock() - started
                        self.sleep(worked * (1 - self.cpu_share) / self.cpu_share)
                        started = self.clock()
        return total, entries, False


def parse_task_state(text: str | None) -> str | None:
    """The state of one task from ``/proc/<pid>/task/<tid>/stat`` (the letter after the command's ``)``)."""
    if not text:
        return None
    _, sep, rest = text.rpartition(")")
    letter = rest.split()[0] if sep and rest.split() else ""
    return TASK_STATES.get(letter)


def task_states(proc_root: str, pids: Iterable[int], limit: int = 10_000) -> tuple[tuple[str, int], ...]:
    """How many of the tasks (threads) of the processes ``pids`` are in each state, cAdvisor's five names.

    ``iowaiting`` is always 0: the kernel reports it only through taskstats, which needs privileges.
    """
    counts = dict.fromkeys(TASK_STATE_NAMES, 0)
    seen = 0
    for pid in pids:
        task_dir = os.path.join(proc_root, str(pid), "task")
        try:
            tids = os.listdir(task_dir)
        except OSError:
            continue
        for tid in tids:
            state = parse_task_state(read_file(os.path.join(task_dir, tid, "stat")))
            if state is not None:
                counts[state] += 1
            seen += 1
            if seen >= limit:
                break
    return tuple(counts.items())
