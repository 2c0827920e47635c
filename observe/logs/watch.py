"""The set of containers to follow: one ``Follow`` per selected container, kept from the inventory's changes.

A container is read while it runs and to its end when it stops, and one that ran unseen
(created, started and exited between two looks of the inventory, or exited before it was
inspected) is read to its end too: its json-file log stays until the container is removed, and
the API serves stopped containers. A container removed before anything could read it is
reported as lost, by name. The collector and ``observe logs -f`` (without names) use it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable

from observe.inventory import RAN_ACTIONS, REMOVED, Inventory, InventoryChange
from observe.logs.follow import UNSEEN, Follow, OnLost, run_key
from observe.model import ContainerInfo, LogPosition

Begin = Callable[[ContainerInfo, LogPosition | None, bool], Follow]
"""Start a follow: (container, position to resume from or None, at observe's start) -> the started Follow."""


class Watch:
    """One ``Follow`` per selected container, kept from the inventory's changes on the watch's own thread.

    A container is followed while it runs and read to its end when it stops; a stopped one whose
    last run was not read to its end yet is read from where its last follow stopped (so nothing
    is read twice within a process, and across restarts the caller's positions do the same).

    Args:
        inventory: the live inventory (started by the caller).
        begin: starts a ``Follow`` for a container.
        on_lost: a container ran and was removed before anything could read it.
        on_reaped: a follow finished: (container id, the follow, the container now or None when gone).
        on_idle: called on the watch's thread after each change and at least every ``idle_every``
            seconds (checkpoint saving). The thread sleeps between: a follow that finishes and
            ``stop`` wake it (each wake-up of a sleeping thread costs 150-300 µs of CPU on a VM).
        accept: which container ids are this watch's (a worker's shard); the others are ignored.
    """

    def __init__(self, inventory: Inventory, begin: Begin, *, on_lost: OnLost,
                 on_reaped: Callable[[str, Follow, ContainerInfo | None], None] | None = None,
                 on_idle: Callable[[], None] | None = None, accept: Callable[[str], bool] = lambda _cid: True,
                 name: str = "observe-watch", idle_every: float = 0.5) -> None:
        self.accept = accept
        self.inventory = inventory
        self.begin = begin
        self.on_lost = on_lost
        self.on_reaped = on_reaped
        self.on_idle = on_idle
        self.idle_every = idle_every
        self.follows: dict[str, Follow] = {}
        self._resume: dict[str, LogPosition] = {}
        self._read: dict[str, Hashable] = {}  # container id -> the run read to its end
        self._changes: queue.Queue[InventoryChange | None] = queue.Queue()  # None: only a wake-up
        self._stop = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self, read_now: Callable[[ContainerInfo], bool]) -> None:
        """Follow the containers ``read_now`` picks (and later every change); the others count as read."""
        self._unsubscribe = self.inventory.subscribe(self._changes.put)
        for c in self.inventory.containers(include_stopped=True):
            if not self.accept(c.id):
                continue
            if read_now(c):
                self._ensure(c, startup=True)
            else:
                self._read[c.id] = run_key(c)
        self._thread.start()

    def following(self) -> list[str]:
        return [f.container.name for f in list(self.follows.values()) if not f.done.is_set()]

    def _unread(self, c: ContainerInfo, change: InventoryChange | None = None) -> bool:
        """Whether a container ran and its last run was not read to its end."""
        ran = c.started_at is not None or c.running
        if not ran and change is not None and change.event is not None:
            ran = change.event.action in RAN_ACTIONS
        if not ran:
            return False
        return self._read.get(c.id, UNSEEN) != run_key(c)

    def _ensure(self, c: ContainerInfo, startup: bool = False) -> None:
        current = self.follows.get(c.id)
        if current is not None and not current.done.is_set():
            return  # a restart while the last run drains is picked up when that one is done
        if current is not None:
            self._reaped(c.id, current)
        follow = self.begin(c, self._resume.get(c.id), startup)
        follow.on_done = self._wake
        if follow.done.is_set():  # finished before it could be told to wake the watch
            self._wake()
        self.follows[c.id] = follow
        if not c.running:
            follow.drain(c)

    def _wake(self) -> None:
        self._changes.put(None)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                change = self._changes.get(timeout=self.idle_every)
            except queue.Empty:
                change = None
            if change is not None:
                self._apply(change)
            self._reap()
            if self.on_idle is not None:
                self.on_idle()

    def _apply(self, change: InventoryChange) -> None:
        self._reap()  # what finished counts before this change is judged
        c = change.container
        if not self.accept(c.id):
            return
        follow = self.follows.get(c.id)
        active = follow is not None and not follow.done.is_set()
        if change.kind == REMOVED:
            if follow is not None and active:
                follow.drain()
            elif self._unread(c, change):
                self._read[c.id] = run_key(c)
                self.on_lost(c, f"container {c.name} was removed before its log could be read")
            return
        if follow is not None and active and follow.container.name != c.name:
            follow.rename(c)
        if c.running:
            if not active:
                self._ensure(c)
        elif active:
            assert follow is not None
            follow.drain(c)
        elif self._unread(c, change):
            self._ensure(c)  # ran between two looks, or exited before it was inspected: read it to its end

    def _reaped(self, cid: str, follow: Follow) -> None:
        if follow.position is not None:
            self._resume[cid] = follow.position
        if self.follows.get(cid) is follow:
            del self.follows[cid]

    def _reap(self) -> None:
        for cid, follow in list(self.follows.items()):
            if not follow.done.is_set():
                continue
            self._reaped(cid, follow)
            info = self.inventory.get(cid)
            if follow.read_to_end and follow.end_run is not UNSEEN:
                self._read[cid] = follow.end_run
            elif follow.failed and info is not None:
                self._read[cid] = run_key(info)  # a warning said why; the next run is tried again
            if self.on_reaped is not None:
                self.on_reaped(cid, follow, info)
            if info is None:
                self._resume.pop(cid, None)
                self._read.pop(cid, None)
            elif info.running or self._unread(info):
                self._ensure(info)  # restarted (or ran again) while the last run drained

    def stop(self, deadline: float) -> bool:
        """Stop watching; every follow flushes what it holds (until ``deadline``). True when all finished."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        follows = list(self.follows.values())
        for follow in follows:
            follow.stop()
        for follow in follows:
            follow.thread.join(timeout=max(0.1, deadline - time.monotonic()))
        return all(f.done.is_set() for f in follows)
