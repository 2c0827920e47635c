"""A collecting process's runtime: its garbage collector, and the CPU it keeps to.

The garbage collector, set for a process that moves many short-lived objects:

The log path makes a handful of tuples and dicts per line (a raw line, its position, a record,
its document) that live for one batch: thousands at a time, none in a reference cycle. With the
interpreter's default thresholds (a young collection every 700 net allocations, a full one every
100 young ones, or sooner when many objects survived), every batch set off young collections
that moved the batch into the older generations and, from there, full collections that walked
every object of the process again: measured on the corpus, 12-19 % of the log path's CPU went
to collections that found nothing.

``quiet_collector`` moves what start-up made (modules, classes, the core) out of the
collector's walks and makes collections rarer. Cyclic garbage is still found: later, and it
is small (an exception's traceback, a closed connection's objects).

The CPU: a collecting process runs Python on one core at a time (one interpreter lock), but its
threads hand records to each other (the follower builds them, the sink thread renders and frees
them). Left to the kernel, the woken thread often runs on the other, idle core, and each batch's
objects cross between the cores' caches twice: on the 1M-line corpus, ``observe run`` used 22 %
more CPU and 18 % more wall time than the same process kept on one core. ``keep_to_one_cpu``
keeps every thread of the process on one CPU of those it may use, when there are at least as
many CPUs as collecting processes: with more processes than CPUs, the kernel's balancing does
better than a fixed share (four workers on two cores, four busy containers: 134k lines/s left
to the kernel, 116k kept two to a core).
"""

from __future__ import annotations

import contextlib
import gc
import os

YOUNG = 50_000
"""Net allocations of tracked objects between two young collections (the default: 700). More than
the batches a worker holds at once make (a 64 KiB read is about 200 lines, a few objects each), so
a batch dies young."""
FULL_AFTER = 100
"""Collections of the middle generation between two full ones (the default: 10)."""

_before_kept: list[frozenset[int]] = []  # the CPUs this process could use before keep_to_one_cpu


def quiet_collector(young: int = YOUNG) -> None:
    """Freeze start-up's objects out of the collector's walks; young collections after ``young``
    net allocations, full collections ten times rarer than the default."""
    gc.collect()
    gc.freeze()
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)


def keep_to_one_cpu(index: int | None, processes: int = 1) -> int | None:
    """Keep this process's threads (and those it starts) on one CPU; that CPU, or None when not kept.

    ``index``: a worker's number among ``processes`` (worker k keeps to the k-th CPU it may use, so
    that N workers on N cores have one each); None for a process on its own: the CPU it runs on
    now. Nothing is done when the process may use one CPU only, when there are more processes
    than CPUs, or where the kernel does not support it.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    if len(allowed) < 2 or processes > len(allowed):
        return None
    cpu = allowed[index % len(allowed)] if index is not None else _current_cpu(allowed)
    _before_kept[:] = [frozenset(allowed)]
    kept = False
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError, ValueError):
            os.sched_setaffinity(int(tid), {cpu})
            kept = True
    return cpu if kept else None


def usable_cpus() -> frozenset[int]:
    """The CPUs this process may use, as before ``keep_to_one_cpu`` (empty where the kernel cannot say)."""
    if _before_kept:
        return _before_kept[0]
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return frozenset()


def spare_cpus() -> frozenset[int]:
    """The CPUs a helper process of this one may use: those this process may use, but not the one it keeps to.

    All of them when it keeps to none.
    """
    usable = usable_cpus()
    if not _before_kept:
        return usable
    try:
        own = frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return usable
    return (usable - own) or usable


def _current_cpu(allowed: list[int]) -> int:
    """The CPU this thread last ran on (field 39 of /proc/thread-self/stat), if it is allowed."""
    try:
        with open("/proc/thread-self/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
        cpu = int(fields[36])
    except (OSError, ValueError, IndexError):
        return allowed[0]
    return cpu if cpu in allowed else allowed[0]
