"""The Events tab: the container's engine events, live."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable

from observe.model import ContainerEvent
from tui.bridge import EngineEventArrived
from tui.coreview import CoreView

QUIET_EVENTS = frozenset({"top", "exec_create", "exec_start", "exec_die", "exec_detach", "resize", "attach", "detach",
                          "archive-path", "extract-to-dir", "copy", "export", "commit"})
"""Events the Events pane leaves out: the TUI's own polling and exec plumbing (and every healthcheck's
exec, every few seconds) would drown the rest. Health changes still show, as ``health_status``."""


def shown(action: str) -> bool:
    """Whether the Events pane shows an event. The engine writes some actions with their argument
    (``exec_create: /bin/sh -c curl …``, ``health_status: healthy``): the name is what precedes ``:``."""
    return action.partition(":")[0].strip() not in QUIET_EVENTS


class EventsPane(Vertical):
    """The container's recent engine events, newest at the bottom, live."""

    def __init__(self, core: CoreView, container_id: str, name: str = "") -> None:
        super().__init__(id="events-pane")
        self.core = core
        self.container_id = container_id
        self._unsubscribe: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="events-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("TIME", "ACTION", "DETAIL")
        for event in self.core.inventory.recent_events(self.container_id):
            if shown(event.action):
                self.add(event)
        self._unsubscribe = self.core.inventory.subscribe_events(self._on_event)

    def _on_event(self, event: ContainerEvent) -> None:
        if event.container_id == self.container_id and shown(event.action):
            self.post_message(EngineEventArrived(event))

    def on_engine_event_arrived(self, message: EngineEventArrived) -> None:
        message.stop()
        self.add(message.event)

    def add(self, event: ContainerEvent) -> None:
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


