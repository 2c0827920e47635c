"""The containers screen: the live table, sorted, filtered as you type, grouped by service.

It reads the core through ``CoreView`` and posts what the user asks for (open, exec, an
action) up to the app as ``tui.messages`` requests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from tui.coreview import CoreView
from tui.messages import ActOn, ExecPrompt, ExecShell, OpenDetail, RunPrompt
from tui.rows import (
    COLUMN_KEYS,
    COLUMNS,
    Group,
    Row,
    RowFilter,
    fmt_bytes,
    fmt_duration,
    fmt_memory,
    fmt_percent,
    fmt_rate,
    group_rows,
    make_rows,
    sort_rows,
    sparkline,
)
from tui.widgets import EngineBanner

STATE_STYLES = {"running": "green", "paused": "yellow", "restarting": "yellow", "exited": "dim", "created": "dim",
                "dead": "red", "removing": "dim"}


def state_text(state: str, health: str) -> Text:
    text = Text(state, style=STATE_STYLES.get(state, ""))
    if health:
        text.append(f" ({health})", style={"healthy": "green", "unhealthy": "bold red"}.get(health, "yellow"))
    return text


def row_cells(row: Row) -> tuple[RenderableType, ...]:
    """The cells of a container row, in ``COLUMNS`` order."""
    top = max([5.0, *row.cpu_history])
    return (
        Text(row.name, style="bold" if row.running else "dim"),
        row.service,
        row.image,
        state_text(row.state, row.health),
        Text(fmt_percent(row.cpu), justify="right"),
        Text(sparkline(row.cpu_history, top=top), style="cyan"),
        Text(fmt_memory(row.mem_used, row.mem_limit), justify="right"),
        Text(fmt_rate(row.rx_rate), justify="right"),
        Text(fmt_rate(row.tx_rate), justify="right"),
        Text(str(row.restarts), justify="right", style="red" if row.restarts else ""),
        Text(fmt_duration(row.uptime), justify="right"),
    )


def group_cells(group: Group) -> tuple[RenderableType, ...]:
    """The cells of a service's header row: totals over its containers."""
    return (
        Text(f"▼ {group.service}", style="bold magenta"),
        Text(f"{len(group.rows)} containers", style="magenta"),
        "",
        Text(f"{group.running}/{len(group.rows)} running", style="magenta"),
        Text(fmt_percent(group.cpu), justify="right", style="bold"),
        "",
        Text(fmt_bytes(group.mem_used) if group.mem_used is not None else "-", justify="right", style="bold"),
        Text(fmt_rate(group.rx_rate), justify="right", style="bold"),
        Text(fmt_rate(group.tx_rate), justify="right", style="bold"),
        Text(str(group.restarts), justify="right", style="bold"),
        "",
    )


class ContainersScreen(Screen[None]):
    """The live containers table: sort, filter as you type, group by service, act on the selected row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("enter", "open", "Open"),
        Binding("slash", "filter", "Filter"),
        Binding("a", "toggle_stopped", "All"),
        Binding("g", "toggle_group", "Group"),
        Binding("o", "sort_next", "Sort"),
        Binding("O", "sort_reverse", "Reverse sort", show=False),
        Binding("l", "open('logs')", "Logs", show=False),
        Binding("i", "open('inspect')", "Inspect", show=False),
        Binding("e", "exec", "Shell"),
        Binding("E", "exec_command", "Exec a command", show=False),
        Binding("x", "run", "Run a command", show=False),
        Binding("r", "act('restart')", "Restart"),
        Binding("s", "act('stop')", "Stop", show=False),
        Binding("S", "act('start')", "Start", show=False),
        Binding("p", "pause", "Pause/unpause", show=False),
        Binding("k", "act('kill')", "Kill", show=False),
        Binding("d", "act('remove')", "Remove", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    ContainersScreen #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    ContainersScreen #filter { height: 3; }
    ContainersScreen DataTable { height: 1fr; }
    ContainersScreen DataTable.stale { opacity: 60%; }
    """

    def __init__(self, core: CoreView, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.core = core
        self.clock = clock
        self.sort_key = "name"
        self.sort_descending = False
        self.show_stopped = True
        self.grouped = False
        self.filter_text = ""
        self._cells: dict[str, tuple[RenderableType, ...]] = {}
        self._order: list[str] = []
        self._header: tuple[str, bool] | None = None
        self.row_count = 0

    def compose(self) -> ComposeResult:
        yield Static("observe", id="title")
        yield EngineBanner(self.core.inventory)
        yield Input(placeholder="filter: words match name/image/service/state/health, !word excludes; "
                                "app=web, label:KEY, label:!KEY select labels", id="filter")
        yield DataTable(id="containers", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_table()
        self.query_one(DataTable).focus()

    # -- the table ---------------------------------------------------------------------
    @property
    def table(self) -> DataTable[RenderableType]:
        return self.query_one("#containers", DataTable)

    def visible_rows(self) -> list[Row]:
        """The container rows as shown now (filtered and sorted), without group headers."""
        rows = make_rows(self.core.inventory.containers(include_stopped=True), self.core.sampler.snapshot(),
                         self.clock())
        flt = RowFilter.parse(self.filter_text)
        rows = [r for r in rows if (self.show_stopped or r.running) and flt.matches(r)]
        return sort_rows(rows, self.sort_key, self.sort_descending)

    def refresh_table(self) -> None:
        """Re-read the core and update the table in place, keeping the cursor on the same container."""
        if not self.query("#containers"):
            return  # not composed yet, or being torn down at exit
        rows = self.visible_rows()
        self.row_count = len(rows)
        items: list[tuple[str, tuple[RenderableType, ...]]] = []
        if self.grouped:
            for group in group_rows(rows):
                items.append((f"group:{group.service}", group_cells(group)))
                items.extend((r.id, row_cells(r)) for r in group.rows)
        else:
            items = [(r.id, row_cells(r)) for r in rows]
        self._apply(items)
        self._update_title(rows)

    def _apply(self, items: list[tuple[str, tuple[RenderableType, ...]]]) -> None:
        table = self.table
        header = (self.sort_key, self.sort_descending)
        keys = [k for k, _ in items]
        if header != self._header:
            table.clear(columns=True)
            for col in COLUMNS:
                arrow = (" ▼" if self.sort_descending else " ▲") if col.key == self.sort_key else ""
                table.add_column(col.title + arrow, key=col.key)
            self._header = header
            self._order = []
        if keys == self._order:
            for key, cells in items:
                old = self._cells.get(key)
                for i, cell in enumerate(cells):
                    if old is None or old[i] != cell:
                        table.update_cell(key, COLUMN_KEYS[i], cell)
        else:
            selected = self.selected_key()
            scroll_y = table.scroll_y
            table.clear()
            for key, cells in items:
                table.add_row(*cells, key=key)
            self._order = keys
            if selected in keys:
                table.move_cursor(row=keys.index(selected), animate=False, scroll=False)
            table.scroll_to(y=scroll_y, animate=False, immediate=True)
        self._cells = dict(items)
        table.set_class(not self.app_connected(), "stale")

    def app_connected(self) -> bool:
        return bool(self.core.inventory.connected)

    def _update_title(self, rows: list[Row]) -> None:
        total = self.core.inventory.containers(include_stopped=True)
        running = sum(1 for c in total if c.running)
        sort = f"sort {self.sort_key} {'▼' if self.sort_descending else '▲'}"
        parts = [
            "[b]observe[/b]",
            f"{running} running / {len(total)} containers",
            f"{len(rows)} shown",
            sort,
            "grouped by service" if self.grouped else "",
            "" if self.show_stopped else "running only",
            f"filter “{self.filter_text}”" if self.filter_text else "",
            RowFilter.parse(self.filter_text).error,
            "[reverse] READ-ONLY [/reverse]" if self.core.config.read_only else "",
        ]
        self.query_one("#title", Static).update(" · ".join(p for p in parts if p))

    def shown_ids(self) -> list[str]:
        """The container ids in the table, top to bottom (group headers left out)."""
        return [k for k in self._order if not k.startswith("group:")]

    def selected_key(self) -> str | None:
        if not self.query("#containers"):
            return None  # not composed yet
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # the cursor can briefly point past the rows while they are replaced
            return None
        return key

    def selected_id(self) -> str | None:
        """The container under the cursor (None on a group header or an empty table)."""
        key = self.selected_key()
        return None if key is None or key.startswith("group:") else key

    def select(self, container_id: str) -> None:
        """Put the cursor on a container's row."""
        if container_id in self._order:
            self.table.move_cursor(row=self._order.index(container_id))

    # -- interaction -------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self.sort_by(key, not self.sort_descending if key == self.sort_key else key not in ("name", "service",
                                                                                           "image", "state"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def sort_by(self, key: str, descending: bool = False) -> None:
        self.sort_key, self.sort_descending = key, descending
        self.refresh_table()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("exec", "exec_command", "run", "act", "pause"):
            return not self.core.config.read_only
        return True

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_toggle_stopped(self) -> None:
        self.show_stopped = not self.show_stopped
        self.refresh_table()

    def action_toggle_group(self) -> None:
        self.grouped = not self.grouped
        self.refresh_table()

    def action_sort_next(self) -> None:
        i = COLUMN_KEYS.index(self.sort_key)
        key = COLUMN_KEYS[(i + 1) % len(COLUMN_KEYS)]
        self.sort_by(key, key not in ("name", "service", "image", "state"))

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_key, not self.sort_descending)

    def _with_selected(self, then: Callable[[str], object]) -> None:
        cid = self.selected_id()
        if cid is None:
            self.notify("select a container first", severity="warning")
            return
        then(cid)

    def action_open(self, tab: str = "logs") -> None:
        self._with_selected(lambda cid: self.post_message(OpenDetail(cid, tab)))

    def action_exec(self) -> None:
        self._with_selected(lambda cid: self.post_message(ExecShell(cid)))

    def action_exec_command(self) -> None:
        self._with_selected(lambda cid: self.post_message(ExecPrompt(cid)))

    def action_run(self) -> None:
        self._with_selected(lambda cid: self.post_message(RunPrompt(cid)))

    def action_act(self, verb: str) -> None:
        self._with_selected(lambda cid: self.post_message(ActOn(cid, verb)))

    def action_pause(self) -> None:
        def toggle(cid: str) -> None:
            known = self.core.inventory.get(cid)
            self.post_message(ActOn(cid, "unpause" if known is not None and known.state == "paused" else "pause"))

        self._with_selected(toggle)
