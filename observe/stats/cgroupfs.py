"""The cgroup filesystem's files: reading them cheaply and parsing their formats. Pure apart from the reads.

A sweep reads a dozen small files per container every second, so the cost of a read matters more
than anything done with its text: ``ContainerFiles`` keeps each file open and re-reads it with
``pread`` at offset 0 (the kernel regenerates a cgroup or proc file on every read from the start),
which costs a third of an open-read-close. A file whose cgroup was removed fails to read (ENODEV)
and reads as missing, which is how a reader notices that a container stopped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import resource
from collections.abc import Callable
from typing import TypeVar, cast

from observe.stats.sample import unlimited_as_zero

T = TypeVar("T")

CHUNK = 65536
STAGGER = 10
FILES_PER_CONTAINER = 24


def raise_open_file_limit(containers: int = 2000) -> int:
    """Lift the soft limit on open files towards the hard one, enough to keep every container's files
    open (about ``FILES_PER_CONTAINER`` each); returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = containers * FILES_PER_CONTAINER + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if new > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
    return soft


def read_file(path: str) -> str | None:
    """The file's text, or None when it does not exist (a controller or file this host lacks)."""
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("ascii", "replace")
    except (FileNotFoundError, NotADirectoryError, ProcessLookupError):
        return None


def to_int(text: str | None) -> int | None:
    """A file's text holding one integer; None when missing or not a number."""
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def read_int(path: str) -> int | None:
    """A file holding one integer; None when missing or not a number."""
    return to_int(read_file(path))


class ContainerFiles:
    """Open descriptors of one container's cgroup and proc files, re-read with ``pread``.

    Not thread-safe: the sampler's thread is its only user. ``close`` releases every descriptor;
    the sampler calls it when the container leaves or its process changes.
    """

    __slots__ = ("_fds", "_missing", "_parsed", "built", "last", "probe", "reads", "slow", "sweeps")

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}
        self._missing: set[str] = set()
        self._parsed: dict[str, tuple[str | None, object]] = {}
        self.reads = 0
        self.sweeps = random.randrange(STAGGER)  # spread the containers' slow refreshes over the sweeps
        self.slow: dict[str, object] = {}  # what the reader re-reads only on the slow refresh
        self.built: tuple[tuple[object, ...], dict[str, object]] | None = None  # the reader's last values
        self.probe: tuple[object, ...] | None = None  # what the cheap files read at the last full reading
        self.last: object = None  # the last full reading's sample

    def unchanged(self, probe: tuple[object, ...], refresh: bool) -> bool:
        """Whether ``probe`` (the texts of the few files that move whenever the container does anything) reads
        as at the last full reading, so that its other values may be taken again; a refresh never is."""
        if not refresh and self.last is not None and probe == self.probe:
            return True
        self.probe = probe
        return False

    def parsed(self, key: str, text: str | None, parser: Callable[[str | None], T]) -> T:
        """``parser(text)``, or the very object it gave last time for ``key`` when ``text`` is the same: an idle
        container's files read the same from one sweep to the next, and the reader then rebuilds nothing."""
        last = self._parsed.get(key)
        if last is not None and last[0] == text:
            return cast(T, last[1])
        value = parser(text)
        self._parsed[key] = (text, value)
        return value

    def read(self, path: str) -> str | None:
        """The file's current text; None when it does not exist (now or any more)."""
        fd = self._fds.get(path)
        if fd is None:
            if path in self._missing:
                return None
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError, ProcessLookupError):
                self._missing.add(path)
                return None
            except OSError as err:
                if err.errno in (errno.EMFILE, errno.ENFILE):  # out of descriptors: read it the plain way
                    return read_file(path)
                return None
            self._fds[path] = fd
        try:
            data = os.pread(fd, CHUNK, 0)
            while len(data) % CHUNK == 0 and data:
                more = os.pread(fd, CHUNK, len(data))
                if not more:
                    break
                data += more
        except OSError:  # ENODEV / ESRCH: the cgroup or the process went away
            self._drop(path)
            return None
        self.reads += 1
        return data.decode("ascii", "replace")

    def read_int(self, path: str) -> int | None:
        return to_int(self.read(path))

    def _drop(self, path: str) -> None:
        fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)
        self._missing.add(path)

    def forget_missing(self) -> None:
        """Look again for files that were missing (the slow refresh calls it: a controller may appear)."""
        self._missing.clear()

    def open_count(self) -> int:
        return len(self._fds)

    def close(self) -> None:
        fds = list(self._fds.values())
        self._fds.clear()
        for fd in fds:
            os.close(fd)

    def __del__(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)


class OneShotFiles(ContainerFiles):
    """Plain reads for one-off callers (tests, the root cgroup on the slow schedule): nothing stays open."""

    __slots__ = ()

    def read(self, path: str) -> str | None:
        text = read_file(path)
        if text is not None:
            self.reads += 1
        return text


def parse_flat_keyed(text: str | None) -> dict[str, int]:
    """``key value`` lines (``memory.stat``, ``cpu.stat``, ``memory.events``) as a dict; junk lines skipped."""
    if not text:
        return {}
    parts = text.split()
    if len(parts) % 2 == 0:
        try:  # the common case, done in C: every line is one key and one integer
            return dict(zip(parts[0::2], map(int, parts[1::2]), strict=True))
        except ValueError:
            pass
    out: dict[str, int] = {}
    for line in text.splitlines():
        pair = line.split()
        if len(pair) == 2:
            try:
                out[pair[0]] = int(pair[1])
            except ValueError:
                continue
    return out


class KeyPicker:
    """The values of a few keys of a flat-keyed file (``memory.stat``, ``cpu.stat``), as ``parse_flat_keyed``
    gives them but for those keys only.

    The kernel writes such a file's keys in one fixed order, so where each wanted key's value is is learnt
    at a full parse, and used while the file has the same keys in the same order (compared in C, every
    time): then only the wanted values are converted. Otherwise the file is parsed in full and the places
    learnt again, so the result is always what ``parse_flat_keyed`` gives for those keys.
    """

    __slots__ = ("_at", "_names", "keys")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self._at: tuple[tuple[str, int], ...] = ()
        self._names: list[str] | None = None

    def pick(self, text: str | None) -> dict[str, int]:
        if not text:
            return {}
        parts = text.split()
        names = parts[0::2]
        if names == self._names and len(parts) % 2 == 0:
            try:
                return {key: int(parts[i]) for key, i in self._at}
            except ValueError:
                pass
        full = parse_flat_keyed(text)
        wanted = set(self.keys)
        if len(parts) % 2 == 0 and len(full) * 2 == len(parts):  # learnt only from "key integer" lines
            self._at = tuple((parts[i], i + 1) for i in range(0, len(parts), 2) if parts[i] in wanted)
            self._names = names
        else:
            self._names = None
        return {k: v for k, v in full.items() if k in wanted}


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
    """cgroup v1 ``blkio.*``: ``8:0 Read 4096`` lines by device then operation (lower case).

    Files without an operation (``blkio.time_recursive``, ``blkio.sectors_recursive``: ``8:0 123``)
    give the value under ``"count"``.
    """
    out: dict[str, dict[str, int]] = {}
    if not text:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0] and parts[2].isdigit():
            out.setdefault(parts[0], {})[parts[1].lower()] = int(parts[2])
        elif len(parts) == 2 and ":" in parts[0] and parts[1].isdigit():
            out.setdefault(parts[0], {})["count"] = int(parts[1])
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


def parse_pressure(text: str | None) -> tuple[float, float | None] | None:
    """A ``<resource>.pressure`` file as (some total, full total) in seconds; None when missing or empty."""
    if not text:
        return None
    totals: dict[str, float] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for part in rest.split():
            key, sep, value = part.partition("=")
            if sep and key == "total" and value.isdigit():
                totals[kind] = int(value) / 1e6
    if "some" not in totals:
        return None
    return totals["some"], totals.get("full")


def parse_percpu(text: str | None) -> tuple[int, ...] | None:
    """cgroup v1 ``cpuacct.usage_percpu``: nanoseconds per CPU on one line (integers, so their sum is exact)."""
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.split())
    except ValueError:
        return None


def count_lines(text: str | None) -> int | None:
    if text is None:
        return None
    return sum(1 for line in text.splitlines() if line.strip())


def max_or_int(text: str | None) -> int | None:
    """``pids.max``: ``max`` is no limit, reported as 0 like runc does."""
    if text is None:
        return None
    value = text.strip()
    if value == "max":
        return 0
    return int(value) if value.isdigit() else None


def cpu_weight_to_shares(weight: int) -> int:
    """cgroup v2 ``cpu.weight`` back to v1 shares, inverting runc's conversion (as cAdvisor does)."""
    return 2 + ((weight - 1) * 262142) // 9999


def v2_limit(text: str | None) -> int | None:
    """A v2 limit file (``memory.max``, ``memory.swap.max``, ``memory.low``): ``max`` is no limit (0)."""
    if text is None:
        return None
    value = text.strip()
    if value == "max":
        return 0
    return unlimited_as_zero(int(value)) if value.isdigit() else None


def cpu_max(text: str | None) -> tuple[int | None, int | None]:
    """cgroup v2 ``cpu.max``: ``"20000 100000"`` or ``"max 100000"`` (no quota: 0)."""
    if text is None:
        return None, None
    parts = text.split()
    if len(parts) != 2 or not parts[1].isdigit():
        return None, None
    quota = 0 if parts[0] == "max" else int(parts[0]) if parts[0].isdigit() else None
    return quota, int(parts[1])
