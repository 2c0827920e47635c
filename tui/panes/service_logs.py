"""The merged logs of every replica of a service, each line tagged (and coloured) by its replica.

It is the container logs pane with more than one source: the same filters, search, pause and
save, one follower per replica through the core's one follow path (``CoreView.follow_logs``).
Replicas that start while it is open join (from their last 500 lines); a replica that stops
keeps its stream, which resumes by itself if it starts again; one that is removed leaves.
"""

from __future__ import annotations

import time

from rich.markup import escape

from observe.model import ContainerInfo, Record, ServiceGroup
from tui.coreview import CoreView
from tui.panes.logs import DRAIN_INTERVAL, LogsPane, Stream, stream_text

SYNC_INTERVAL = 1.0
"""Seconds between looks at the inventory for replicas that joined or left."""
MERGE_DELAY = 0.5
"""Seconds a record waits at most for the other replicas' streams (each reads on its own) to reach its time."""
FIRST_WAIT = 2.0
"""Seconds a stream just opened holds the others back until its first records (its tail) arrive."""


def replicas_of(containers: list[ContainerInfo], service: ServiceGroup) -> list[ContainerInfo]:
    """The containers of ``service`` (same name and kind), by replica number then name."""
    members = [c for c in containers if c.service.name == service.name and c.service.kind == service.kind]
    return sorted(members, key=lambda c: (c.service.replica if c.service.replica is not None else 1 << 30, c.name))


class ServiceLogsPane(LogsPane):
    """Every replica's records of ``service``, merged in time order, tagged by replica."""

    def __init__(self, core: CoreView, service: ServiceGroup) -> None:
        super().__init__(core, "", service.name)
        self.service = service
        self._held: list[tuple[float, int, tuple[Stream, Record]]] = []
        self._arrivals = 0
        self._latest: dict[str, int] = {}
        self._opened: dict[str, float] = {}

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(SYNC_INTERVAL, self.sync_sources)
        self.set_interval(DRAIN_INTERVAL, self._release)

    def _release(self) -> None:
        if self._held:
            self.drain()

    def take(self, items: list[tuple[Stream, Record]]) -> list[tuple[Stream, Record]]:
        """Release records in time order: those no replica can still precede, or that waited ``MERGE_DELAY``.

        A record can still be preceded while another following replica's stream has not yet
        delivered anything as recent (its newest record, or none yet for ``FIRST_WAIT`` after it opened).
        """
        now = time.monotonic()
        for item in items:
            self._arrivals += 1
            self._held.append((now, self._arrivals, item))
            self._latest[item[0].container_id] = max(self._latest.get(item[0].container_id, 0), item[1].time_ns)
        marks = []
        for cid, stream in self.streams.items():
            if stream.state.kind != "following":
                continue
            if cid in self._latest:
                marks.append(self._latest[cid])
            elif now - self._opened.get(cid, 0.0) < FIRST_WAIT:
                marks.append(-1)
        watermark = min(marks, default=1 << 63)
        due = [h for h in self._held if h[2][1].time_ns <= watermark or now - h[0] >= MERGE_DELAY]
        if not due:
            return []
        self._held = [h for h in self._held if not (h[2][1].time_ns <= watermark or now - h[0] >= MERGE_DELAY)]
        due.sort(key=lambda h: (h[2][1].time_ns, h[1]))  # by time; arrival order (each replica's own) on ties
        return [h[2] for h in due]

    def _open(self, stream: Stream, tail: int) -> None:
        self._opened[stream.container_id] = time.monotonic()
        super()._open(stream, tail)

    def sources(self) -> list[tuple[str, str]]:
        """Running replicas, and those already followed while they still exist (a stopped one may come back)."""
        members = replicas_of(self.core.inventory.containers(include_stopped=True), self.service)
        return [(c.id, c.name) for c in members if c.running or c.id in self.streams]

    def sync_sources(self) -> None:
        before = set(self.streams)
        super().sync_sources()
        if set(self.streams) != before:
            self._status()

    def replica_colour(self, container_id: str, taken: int) -> int:
        known = self.core.inventory.get(container_id)
        replica = known.service.replica if known is not None else None
        return replica if replica is not None else taken

    def stream_status(self) -> str:
        """How many replicas are followed, and each one that is not following, with why."""
        if not self.streams:
            return "[yellow]no running replica[/]: waiting for one to start"
        following = [s for s in self.streams.values() if s.state.kind == "following"]
        others = [f"{escape(s.tag)} {stream_text(s.state)}" for s in self.streams.values()
                  if s.state.kind != "following"]
        head = f"{len(self.streams)} replica{'s' if len(self.streams) != 1 else ''}"
        if not others:
            return f"{head} · following"
        return " · ".join([f"{head}, {len(following)} following", *others])
