"""The Processes tab: ``docker top`` of the container."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from observe.errors import ObserveError
from tui.coreview import CoreView


class ProcessesPane(Vertical):
    """``docker top`` of the container, refreshed every two seconds."""

    def __init__(self, core: CoreView, container_id: str, name: str = "") -> None:
        super().__init__(id="processes-pane")
        self.core = core
        self.container_id = container_id
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="top-status")
        yield DataTable(id="top-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.refresh_top()
        self.set_interval(2.0, self.refresh_top)

    def refresh_top(self) -> None:
        if not self.shown():
            return  # a hidden tab does not poll
        self.run_worker(self._fetch, thread=True, name="top", group="top", exclusive=True)

    def _fetch(self) -> None:
        try:
            titles, rows = self.core.top(self.container_id)
        except ObserveError as err:
            self.app.call_from_thread(self.show, [], [], str(err))
            return
        self.app.call_from_thread(self.show, titles, rows, "")

    def show(self, titles: list[str], rows: list[list[str]], error: str) -> None:
        self.query_one("#top-status", Static).update(error or f"{len(rows)} processes")
        table = self.query_one("#top-table", DataTable)
        if [str(c.label) for c in table.columns.values()] != titles:
            table.clear(columns=True)
            table.add_columns(*titles)
        else:
            table.clear()
        for row in rows:
            table.add_row(*row)

    def shown(self) -> bool:
        """Whether this pane's tab is the active one (an unparented pane counts as shown)."""
        tab = self.parent
        switcher = tab.parent if tab is not None else None
        current = getattr(switcher, "current", None)
        return current is None or tab is None or current == tab.id

