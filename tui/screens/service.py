"""The service logs screen: the merged logs of every replica of a service (``ServiceLogsPane``).

Reached with ``L`` on a replica in the list or on its detail screen; escape goes back.
"""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from observe.model import ServiceGroup
from tui.coreview import CoreView
from tui.panes.service_logs import ServiceLogsPane, replicas_of
from tui.widgets import EngineBanner, KeyHints


class ServiceLogsScreen(Screen[None]):
    """Every replica's lines of one service, tagged by replica. Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    ServiceLogsScreen #service-title { height: 1; background: $primary; color: $text; padding: 0 1; text-style: bold; }
    ServiceLogsScreen ServiceLogsPane { height: 1fr; }
    """

    def __init__(self, core: CoreView, service: ServiceGroup) -> None:
        super().__init__()
        self.core = core
        self.service = service

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="service-title")
        yield EngineBanner(self.core.inventory)
        yield ServiceLogsPane(self.core, self.service)
        yield KeyHints()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._refresh_title)
        self.call_after_refresh(self._focus_view)

    def _focus_view(self) -> None:
        found = self.query("#log-view")
        if found:
            found.first().focus()

    def _title(self) -> str:
        members = replicas_of(self.core.inventory.containers(include_stopped=True), self.service)
        running = sum(1 for c in members if c.running)
        return (f"service {escape(self.service.name)} · logs of every replica · {running}/{len(members)} running: "
                + ", ".join(escape(c.name) for c in members))

    def _refresh_title(self) -> None:
        for title in self.query("#service-title").results(Static):
            title.update(self._title())

    def action_back(self) -> None:
        """Close an open search box, else go back (at any moment, composed or not)."""
        for pane in self.query(ServiceLogsPane):
            if pane.close_inputs():
                return
        if self.is_current:
            self.dismiss(None)
