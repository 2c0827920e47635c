"""The containers screen: the live table, sorted, filtered as you type, grouped by service.

It reads the core through ``CoreView`` and posts what the user asks for (open, exec, an
action on one container, on the marked ones or on a service) up to the app as ``tui.messages``
requests. Columns that do not fit the terminal drop by priority (``tui.layout``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from rich.console import RenderableType
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static

from tui.actions import ActionTracker, action_bindings
from tui.cells import Cells, cut, group_cells, width_of
from tui.coreview import CoreView
from tui.layout import fit_columns
from tui.messages import ActOn, ActOnMany, ExecPrompt, ExecShell, OpenDetail, OpenServiceLogs, RunPrompt
from tui.reuse import MadeRows
from tui.rows import COLUMN_KEYS, COLUMNS, Row, RowFilter, column, group_rows, sort_rows
from tui.table import ContainersTable
from tui.triage import PROBLEM_WORDS
from tui.widgets import EngineBanner, KeyHints

PRIORITY = {c.key: c.priority for c in COLUMNS}
SCROLLBAR = 2
Item = tuple[str, Cells]


class ContainersScreen(Screen[None]):
    """The live containers table: sort, filter as you type, group by service, act on the selected row.

    Args:
        core: the core, read through ``CoreView``.
        clock: the wall clock for uptimes.
        tracker: where the app records pending actions and their outcomes (shown in STATE).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("enter", "open", "Open"),
        Binding("slash", "filter", "Filter"),
        Binding("exclamation_mark", "problems", "Problems only", show=False),
        Binding("w", "worst_first", "Problems first (worst first, then the sort)", show=False),
        Binding("a", "toggle_stopped", "All"),
        Binding("g", "toggle_group", "Group"),
        Binding("c", "collapse", "Collapse/expand the group", show=False),
        Binding("o", "sort_next", "Sort"),
        Binding("O", "sort_reverse", "Reverse sort", show=False),
        Binding("l", "open('logs')", "Logs", show=False),
        Binding("i", "open('inspect')", "Inspect", show=False),
        Binding("L", "service_logs", "Logs of every replica of the service", show=False),
        Binding("e", "exec", "Shell"),
        Binding("E", "exec_command", "Exec a command", show=False),
        Binding("x", "run", "Run a command", show=False),
        Binding("space", "mark", "Mark", show=False),
        Binding("u", "unmark", "Unmark all", show=False),
        *action_bindings(show_restart=True),
        Binding("R", "service('restart')", "Restart every replica of the service", show=False),
        Binding("T", "service('stop')", "Stop every replica of the service", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    ContainersScreen #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    ContainersScreen #filter { height: 3; }
    ContainersScreen DataTable { height: 1fr; }
    ContainersScreen DataTable.stale { opacity: 60%; }
    """

    def __init__(self, core: CoreView, clock: Callable[[], datetime], tracker: ActionTracker | None = None) -> None:
        super().__init__()
        self.core = core
        self.clock = clock
        self.tracker = tracker or ActionTracker()
        self.sort_key = "name"
        self.sort_descending = False
        self.problems_first = False
        self.show_stopped = True
        self.grouped = False
        self.collapsed: set[str] = set()
        self.marked: set[str] = set()
        self.filter_text = ""
        self.columns: list[str] = list(COLUMN_KEYS)
        self._cells: dict[str, tuple[RenderableType, ...]] = {}
        self._order: list[str] = []
        self._rows: dict[str, Row] = {}
        self._made = MadeRows()  # a sort or a filter between two ticks reorders what the last refresh made
        self._header: tuple[object, ...] | None = None
        self._widths: dict[str, int] = {}
        self._fit_width = -1
        self.row_count = 0
        self._behind = False

    def compose(self) -> ComposeResult:
        yield Static("observe", id="title")
        yield EngineBanner(self.core.inventory)
        yield Input(placeholder="filter: words match name/image/service/state/health, !word excludes, "
                                "problems; app=web, label:KEY, label:!KEY select labels", id="filter")
        yield ContainersTable(id="containers", cursor_type="row", zebra_stripes=True)
        yield KeyHints()

    def on_mount(self) -> None:
        self.refresh_table()
        self.query_one(DataTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        self.refresh_table()

    # -- the table ---------------------------------------------------------------------
    @property
    def table(self) -> ContainersTable:
        return self.query_one("#containers", ContainersTable)

    def visible_rows(self) -> list[Row]:
        """The container rows as shown now (filtered and sorted), without group headers."""
        rows = self._made.rows(self.core.inventory.containers(include_stopped=True), self.core.sampler.snapshot(),
                               self.clock())
        flt = RowFilter.parse(self.filter_text)
        rows = [r for r in rows if (self.show_stopped or r.running) and flt.matches(r)]
        return sort_rows(rows, self.sort_key, self.sort_descending, self.problems_first)

    def _row_item(self, row: Row) -> Item:
        return row.id, self._made.cells(row, row.id in self.marked, self.tracker.pending(row.id),
                                        self.tracker.outcome(row.id))

    def covered(self) -> bool:
        """Whether another full screen (a detail, a service's logs) hides this one: then the table need not move."""
        if not self.is_attached:
            return False
        top = self.app.screen
        return top is not self and not isinstance(top, ModalScreen)

    def on_screen_resume(self) -> None:
        if self._behind:
            self.refresh_table()

    def refresh_table(self) -> None:
        """Re-read the core and update the table in place, keeping the cursor on the same container.

        While another screen covers this one, only notes that it is behind (100 rows re-read and
        compared every stats tick for nobody); it catches up when it is shown again.
        """
        if not self.query("#containers"):
            return  # not composed yet, or being torn down at exit
        if self.covered():
            self._behind = True
            return
        self._behind = False
        rows = self.visible_rows()
        self.row_count = len(rows)
        self._rows = {r.id: r for r in rows}
        self._made.keep(self._rows)
        known = {c.id for c in self.core.inventory.containers(include_stopped=True)}
        self.marked &= known
        items: list[Item] = []
        if self.grouped:
            for group in group_rows(rows):
                folded = group.key in self.collapsed
                items.append((group.row_key, group_cells(group, folded)))
                if not folded:
                    items.extend(self._row_item(r) for r in group.rows)
        else:
            items = [self._row_item(r) for r in rows]
        self._apply(items)
        self._update_title(rows)

    def _fit(self, items: list[Item]) -> tuple[list[str], int | None]:
        """The columns that fit the table's width; widths seen only grow until the next resize (no flicker)."""
        available = (self.table.size.width or self.app.size.width) - SCROLLBAR
        if available != self._fit_width:
            self._fit_width, self._widths = available, {}
        widths = self._widths
        for col in COLUMNS:
            widths[col.key] = max(widths.get(col.key, 0), len(col.title) + 2)
        for _, cells in items:
            for key, cell in cells.items():
                widths[key] = max(widths[key], width_of(cell))
        return fit_columns(COLUMN_KEYS, PRIORITY, widths, available)

    def _apply(self, items: list[Item]) -> None:
        """Show ``items``: columns re-added only when those that fit change; rows kept, added, removed, reordered."""
        table = self.table
        columns, name_width = self._fit(items)
        header = (tuple(columns), name_width)
        rendered = [(key, tuple(cut(cells[c], name_width) if c == "name" and name_width else cells[c]
                                for c in columns)) for key, cells in items]
        keys = [k for k, _ in rendered]
        if header != self._header:
            table.clear(columns=True)
            for key in columns:
                table.add_column(self._title(key), key=key, width=name_width if key == "name" else None)
            self._header = header
            self.columns = columns
            self._order = []
            self._cells = {}
        else:
            table.relabel({key: self._title(key) for key in columns}, lambda: {
                c: max((width_of(cells[i]) for _, cells in rendered), default=0) for i, c in enumerate(columns)})
        if keys != self._order:
            self._rearrange(table, rendered, keys)
        for key, cells in rendered:
            old = self._cells.get(key)
            if old is None:
                continue  # just added with these cells
            for i, cell in enumerate(cells):
                if old[i] is not cell and old[i] != cell:  # a wider value widens its column, as a new row would
                    table.update_cell(key, columns[i], cell, update_width=width_of(cell) > width_of(old[i]))
        self._cells = dict(rendered)
        table.set_class(not self.app_connected(), "stale")

    def _title(self, key: str) -> str:
        arrow = (" ▼" if self.sort_descending else " ▲") if key == self.sort_key else ""
        return column(key).title + arrow

    def _rearrange(self, table: ContainersTable, rendered: list[tuple[str, tuple[RenderableType, ...]]],
                   keys: list[str]) -> None:
        """Rows gone removed, new rows added, then all in ``keys``' order; the cursor stays on its row."""
        selected = self.selected_key()
        scroll_y = table.scroll_y
        wanted = set(keys)
        if len(wanted & set(self._order)) * 2 < len(keys):  # mostly new rows: adding all at once is cheaper
            table.clear()
            self._cells = {}
        else:
            for key in self._order:
                if key not in wanted:
                    table.remove_row(key)
                    self._cells.pop(key, None)
        for key, cells in rendered:
            if key not in self._cells:
                table.add_row(*cells, key=key)
        if table.row_keys() != keys:
            table.reorder(keys)
        self._order = keys
        if selected in wanted:
            table.move_cursor(row=keys.index(selected), animate=False, scroll=False)
        table.scroll_to(y=scroll_y, animate=False, immediate=True)

    def app_connected(self) -> bool:
        return bool(self.core.inventory.connected)

    def _update_title(self, rows: list[Row]) -> None:
        total = self.core.inventory.containers(include_stopped=True)
        running = sum(1 for c in total if c.running)
        problems = sum(1 for r in rows if r.problem)
        sort = f"sort {self.sort_key} {'▼' if self.sort_descending else '▲'}"
        parts = [
            "[b]observe[/b]",
            f"{running} running / {len(total)} containers",
            f"{len(rows)} shown",
            f"[b red]{problems} with problems[/]" if problems else "",
            ("problems first, " if self.problems_first else "") + sort,
            "grouped" if self.grouped else "",
            f"{len(self.marked)} marked" if self.marked else "",
            "" if self.show_stopped else "running only",
            f"filter “{self.filter_text}”" if self.filter_text else "",
            RowFilter.parse(self.filter_text).error,
            "[reverse] READ-ONLY [/reverse]" if self.core.config.read_only else "",
        ]
        self.query_one("#title", Static).update(" · ".join(p for p in parts if p))

    def shown_ids(self) -> list[str]:
        """The container ids in the table, top to bottom (group headers left out)."""
        return [k for k in self._order if not k.startswith("group:")]

    def shown_keys(self) -> list[str]:
        """Every row key in the table, top to bottom, group headers (``group:<service>``) included."""
        return list(self._order)

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

    def selected_group(self) -> str | None:
        """The group of the row under the cursor: its header's, or its container's (``""``: standalone)."""
        key = self.selected_key()
        if key is None:
            return None
        if key.startswith("group:"):
            return key[len("group:"):]
        row = self._rows.get(key)
        return None if row is None else row.group

    def select(self, key: str) -> None:
        """Put the cursor on a container's row (or a group header's, ``group:<service>``)."""
        if key in self._order:
            self.table.move_cursor(row=self._order.index(key))

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
        if action in ("exec", "exec_command", "run", "act", "pause", "service", "mark"):
            return not self.core.config.read_only
        return True

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_problems(self) -> None:
        """Keep only the containers with a problem, or all again: the word ``problems`` in the filter box."""
        words = self.filter_text.split()
        kept = [w for w in words if w.lower() not in PROBLEM_WORDS]
        text = " ".join(kept if len(kept) != len(words) else [*words, "problems"])
        self.query_one("#filter", Input).value = text
        self.filter_text = text
        self.refresh_table()

    def action_worst_first(self) -> None:
        self.problems_first = not self.problems_first
        self.refresh_table()

    def action_toggle_stopped(self) -> None:
        self.show_stopped = not self.show_stopped
        self.refresh_table()

    def action_toggle_group(self) -> None:
        self.grouped = not self.grouped
        self.refresh_table()

    def action_collapse(self) -> None:
        """Fold the group under the cursor to its header (with its count), or unfold it."""
        group = self.selected_group() if self.grouped else None
        if group is None:
            self.notify("group the table first (g), then collapse a group", severity="warning")
            return
        self.collapsed ^= {group}
        self.refresh_table()
        self.select(f"group:{group}")

    def action_sort_next(self) -> None:
        i = COLUMN_KEYS.index(self.sort_key)
        key = COLUMN_KEYS[(i + 1) % len(COLUMN_KEYS)]
        self.sort_by(key, key not in ("name", "service", "image", "state"))

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_key, not self.sort_descending)

    def action_mark(self) -> None:
        """Mark or unmark the container under the cursor (actions then apply to the marked ones) and go down."""
        cid = self.selected_id()
        if cid is None:
            return
        self.marked ^= {cid}
        self.refresh_table()
        self.table.action_cursor_down()

    def action_unmark(self) -> None:
        self.marked.clear()
        self.refresh_table()

    def _with_selected(self, then: Callable[[str], object]) -> None:
        cid = self.selected_id()
        if cid is None:
            self.notify("select a container first", severity="warning")
            return
        then(cid)

    def action_open(self, tab: str = "logs") -> None:
        key = self.selected_key()
        if key is not None and key.startswith("group:") and self.grouped:
            self.action_collapse()
            return
        self._with_selected(lambda cid: self.post_message(OpenDetail(cid, tab)))

    def action_service_logs(self) -> None:
        self._with_selected(lambda cid: self.post_message(OpenServiceLogs(cid)))

    def action_exec(self) -> None:
        self._with_selected(lambda cid: self.post_message(ExecShell(cid)))

    def action_exec_command(self) -> None:
        self._with_selected(lambda cid: self.post_message(ExecPrompt(cid)))

    def action_run(self) -> None:
        self._with_selected(lambda cid: self.post_message(RunPrompt(cid)))

    def action_act(self, verb: str) -> None:
        """``verb`` on the marked containers if any, on a group's replicas from its header, else on the row."""
        if self.marked:
            ids = sorted(self.marked, key=lambda i: self._order.index(i) if i in self._order else len(self._order))
            self.post_message(ActOnMany(ids, verb, f"{len(ids)} marked container{'s' if len(ids) != 1 else ''}"))
            return
        key = self.selected_key()
        if key is not None and key.startswith("group:"):
            self.action_service(verb)
            return
        self._with_selected(lambda cid: self.post_message(ActOn(cid, verb)))

    def action_service(self, verb: str) -> None:
        """``verb`` on every replica of the service under the cursor, shown or not."""
        group = self.selected_group()
        if group is None:
            self.notify("select a container first", severity="warning")
            return
        if group == "":
            self.notify("this container is not part of a service", severity="warning")
            return
        ids = [c.id for c in self.core.inventory.containers(include_stopped=True)
               if c.service.kind != "container" and c.service.name == group]
        self.post_message(ActOnMany(ids, verb, f"service {group}"))

    def action_pause(self) -> None:
        def toggle(cid: str) -> None:
            known = self.core.inventory.get(cid)
            self.post_message(ActOn(cid, "unpause" if known is not None and known.state == "paused" else "pause"))

        self._with_selected(toggle)
