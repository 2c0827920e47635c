"""The Events tab: the container's engine events, from the last minutes before the TUI started and live."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable

from observe.errors import ObserveError
from observe.model import ContainerEvent
from tui.bridge import EngineEventArrived
from tui.coreview import CoreView

PAST_SECONDS = 15 * 60
"""How far back the tab asks the engine for events that happened before the TUI saw them."""
EventKey = tuple[int, str, str]

QUIET_EVENTS = frozenset({"top", "exec_create", "exec_start", "exec_die", "exec_detach", "resize", "attach", "detach",
                          "archive-path", "extract-to-dir", "copy", "export", "commit"})
"""Events the Events pane leaves out: the TUI's own polling and exec plumbing (and every healthcheck's
exec, every few seconds) would drown the rest. Health changes still show, as ``health_status``."""


def event_key(event: ContainerEvent) -> EventKey:
    """What makes an event the same whether it came from the engine's past or live: its time, action, health."""
    return event.time_ns, event.action, event.health


def merge(*sources: Iterable[ContainerEvent]) -> list[ContainerEvent]:
    """The shown events of every source, each once, oldest first."""
    seen: dict[EventKey, ContainerEvent] = {}
    for source in sources:
        for event in source:
            if shown(event.action):
                seen.setdefault(event_key(event), event)
    return sorted(seen.values(), key=lambda e: e.time_ns)


class PastEventsArrived(Message):
    """The engine's events from before the TUI started (posted by the pane's worker)."""

    def __init__(self, events: list[ContainerEvent]) -> None:
        super().__init__()
        self.events = events


def shown(action: str) -> bool:
    """Whether the Events pane shows an event. The engine writes some actions with their argument
    (``exec_create: /bin/sh -c curl …``, ``health_status: healthy``): the name is what precedes ``:``."""
    return action.partition(":")[0].strip() not in QUIET_EVENTS


class EventsPane(Vertical):
    """The container's engine events, newest at the bottom: the last ``PAST_SECONDS`` the engine still holds
    (fetched in a worker), those the inventory recorded, and live ones, each shown once."""

    def __init__(self, core: CoreView, container_id: str, name: str = "") -> None:
        super().__init__(id="events-pane")
        self.core = core
        self.container_id = container_id
        self.events: list[ContainerEvent] = []
        self._keys: set[EventKey] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="events-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("TIME", "ACTION", "DETAIL")
        for event in merge(self.core.inventory.recent_events(self.container_id)):
            self.add(event)
        self._unsubscribe = self.core.inventory.subscribe_events(self._on_event)
        self.run_worker(self._fetch_past, thread=True, name="past events", group="events", exclusive=True)

    def _now(self) -> float:
        clock = getattr(self.app, "clock", None)  # the app's clock (fixed in snapshot tests)
        return float(clock().timestamp()) if callable(clock) else time.time()

    def _fetch_past(self) -> None:
        try:
            past = self.core.past_events(self.container_id, self._now() - PAST_SECONDS)
        except ObserveError:
            return  # the engine is away: live events still come, and the banner says why
        if past:
            self.post_message(PastEventsArrived(past))

    def _on_event(self, event: ContainerEvent) -> None:
        if event.container_id == self.container_id and shown(event.action):
            self.post_message(EngineEventArrived(event))

    def on_engine_event_arrived(self, message: EngineEventArrived) -> None:
        message.stop()
        self.add(message.event)

    def on_past_events_arrived(self, message: PastEventsArrived) -> None:
        message.stop()
        self.show(merge(self.events, message.events))

    def show(self, events: list[ContainerEvent]) -> None:
        """Redraw the table with ``events`` (already merged and in order)."""
        self.query_one(DataTable).clear()
        self.events, self._keys = [], set()
        for event in events:
            self.add(event)

    def add(self, event: ContainerEvent) -> None:
        """Append one event, unless it is already shown."""
        key = event_key(event)
        if key in self._keys:
            return
        self._keys.add(key)
        self.events.append(event)
        detail = []
        if event.health:
            detail.append(f"health {event.health}")
        if event.exit_code is not None:
            detail.append(f"exit code {event.exit_code}")
        if "signal" in event.attributes:
            detail.append(f"signal {event.attributes['signal']}")
        style = "red" if event.action in ("die", "oom", "kill") or event.health == "unhealthy" else ""
        table = self.query_one(DataTable)
        table.add_row(event.time.strftime("%Y-%m-%d %H:%M:%S"), Text(event.action, style=style), ", ".join(detail))
        table.move_cursor(row=table.row_count - 1)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()


