"""Network counters of a container from ``<proc_root>/<pid>/net/dev`` (its network namespace)."""

from __future__ import annotations

import os

from observe.stats.sample import IGNORED_INTERFACE_PREFIXES, ContainerGone, InterfaceCounters


def parse_net_dev(text: str, ignore: tuple[str, ...] = IGNORED_INTERFACE_PREFIXES) -> tuple[InterfaceCounters, ...]:
    """Parse ``/proc/net/dev``; interfaces starting with an ``ignore`` prefix are left out, like cAdvisor.

    Lines that do not have the 16 counters are skipped rather than guessed at.
    """
    out: list[InterfaceCounters] = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        name = name.strip()
        if not name or name.lower().startswith(ignore):
            continue
        fields = rest.split()
        if len(fields) < 16 or not all(f.isdigit() for f in fields[:16]):
            continue
        v = [int(f) for f in fields[:16]]
        out.append(InterfaceCounters(name, v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]))
    return tuple(out)


def read_net_dev(proc_root: str, pid: int) -> tuple[InterfaceCounters, ...]:
    """The counters of process ``pid``'s network namespace.

    Raises:
        ContainerGone: the process no longer exists.
    """
    try:
        with open(os.path.join(proc_root, str(pid), "net", "dev"), encoding="ascii", errors="replace") as fh:
            return parse_net_dev(fh.read())
    except (FileNotFoundError, ProcessLookupError):
        raise ContainerGone(f"process {pid} is gone") from None
