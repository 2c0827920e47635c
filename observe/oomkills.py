"""Which containers the kernel OOM-killed, when the engine's own flag says otherwise.

The engine sets ``State.OOMKilled`` from the kernel's OOM notice; when that notice reaches it after the
container's exit, the flag stays false and the container reads as a plain ``exited (137)``. The ``oom``
event is sent all the same. ``OomKills`` remembers those events, so that an OOM kill during a container's
current run marks it ``oom_killed``, and, for a container listed after it exited 137 without the flag,
asks the engine for its run's past ``oom`` events (once per run).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from observe.errors import ObserveError
from observe.model import ContainerEvent, ContainerInfo

PastEvents = Callable[[ContainerInfo, float, float], list[ContainerEvent]]

KILLED_EXIT_CODE = 137  # 128 + SIGKILL


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


class OomKills:
    """The ``oom`` events seen per container (thread-safe), applied to what the engine inspects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}  # id -> time (ns) of its last ``oom`` event
        self._asked: dict[str, datetime | None] = {}  # id -> the end of the run its past events were read for

    def seen(self, container_id: str, time_ns: int) -> None:
        """An ``oom`` event for the container, at ``time_ns``."""
        with self._lock:
            self._last[container_id] = max(time_ns, self._last.get(container_id, 0))

    def forget(self, container_id: str) -> None:
        """The container was removed."""
        with self._lock:
            self._last.pop(container_id, None)
            self._asked.pop(container_id, None)

    def apply(self, info: ContainerInfo) -> ContainerInfo:
        """``info`` marked ``oom_killed`` when an ``oom`` event came during its current run."""
        if info.oom_killed or not self._last:
            return info
        with self._lock:
            oom_ns = self._last.get(info.id)
        if oom_ns is None or (info.started_at is not None and oom_ns < _ns(info.started_at)):
            return info
        return replace(info, oom_killed=True)

    def recall(self, info: ContainerInfo, past: PastEvents) -> ContainerInfo:
        """For a container that exited 137 without the flag: its run's past ``oom`` events decide.

        ``past(info, since, until)`` gives the container's events the engine still holds (``Inventory.past_events``);
        it keeps a bounded number, so an old run's may be gone. Each run is asked about once, and an unreachable
        engine leaves ``info`` as it is.
        """
        if (info.oom_killed or info.state != "exited" or info.exit_code != KILLED_EXIT_CODE
                or info.started_at is None):
            return info
        with self._lock:
            if info.id in self._asked and self._asked[info.id] == info.finished_at:
                return info
            self._asked[info.id] = info.finished_at
        since = info.started_at.timestamp()
        until = (info.finished_at.timestamp() if info.finished_at is not None else time.time()) + 2.0
        try:
            stamps = [e.time_ns for e in past(info, since, min(until, time.time())) if e.action == "oom"]
        except ObserveError:
            return info
        if not stamps:
            return info
        self.seen(info.id, max(stamps))
        return replace(info, oom_killed=True)
