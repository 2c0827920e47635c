"""The TUI: ``make_app(core)`` builds it for the CLI and for the tests.

The app reads the core (``CoreView``) and never talks to Docker around it. Core callbacks
arrive through ``tui.bridge`` as coalesced messages; engine calls run in thread workers;
exec suspends the app and bridges the terminal to the exec's TTY (``tui.terminal``).
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from observe.errors import ObserveError
from tui.bridge import ChangeBridge, ContainersChanged
from tui.coreview import CoreView
from tui.detail import TABS, DetailScreen, InspectPane, LogsPane
from tui.modals import ConfirmScreen, HelpScreen, PromptScreen, TextScreen
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
from tui.terminal import bridge

__all__ = ["CoreView", "ObserveApp", "make_app"]

ACTION_VERBS = ("start", "stop", "restart", "pause", "unpause", "kill", "remove")
CONTAINER_ONLY = frozenset({"exec", "exec_command", "run", "act", "pause", "open"})
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

    def __init__(self, core: CoreView) -> None:
        super().__init__()
        self.core = core
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
        from tui.widgets import EngineBanner

        yield EngineBanner()
        yield Input(placeholder="filter: words match name/image/service; app=web, !legacy, label:KEY select labels",
                    id="filter")
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
        app = self.app
        assert isinstance(app, ObserveApp)
        rows = make_rows(self.core.inventory.containers(include_stopped=True), self.core.sampler.snapshot(), app.now())
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
        app = self.app
        if isinstance(app, ObserveApp) and action in ("exec", "exec_command", "run", "act", "pause"):
            return not app.read_only
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

    def _with_selected(self, then: Callable[[str], None]) -> None:
        cid = self.selected_id()
        if cid is None:
            self.notify("select a container first", severity="warning")
            return
        then(cid)

    def action_open(self, tab: str = "logs") -> None:
        app = self.app
        assert isinstance(app, ObserveApp)
        self._with_selected(lambda cid: app.open_detail(cid, tab))

    def action_exec(self) -> None:
        app = self.app
        assert isinstance(app, ObserveApp)
        self._with_selected(app.exec_shell)

    def action_exec_command(self) -> None:
        app = self.app
        assert isinstance(app, ObserveApp)
        self._with_selected(app.exec_prompt)

    def action_run(self) -> None:
        app = self.app
        assert isinstance(app, ObserveApp)
        self._with_selected(app.run_prompt)

    def action_act(self, verb: str) -> None:
        app = self.app
        assert isinstance(app, ObserveApp)
        self._with_selected(lambda cid: app.confirm_action(cid, verb))

    def action_pause(self) -> None:
        app = self.app
        assert isinstance(app, ObserveApp)

        def toggle(cid: str) -> None:
            known = self.core.inventory.get(cid)
            app.confirm_action(cid, "unpause" if known is not None and known.state == "paused" else "pause")

        self._with_selected(toggle)


class ObserveApp(App[None]):
    """The live debugging TUI over a ``CoreView``.

    Args:
        core: the started core (or a fake of the seam, in snapshot tests).
        clock: the wall clock for uptimes (fixed in snapshot tests).
        refresh_interval: seconds between table refreshes (the sampler's pace).
    """

    TITLE = "observe"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("question_mark,f1", "help", "Help", show=False),
    ]

    def __init__(self, core: CoreView, clock: Callable[[], datetime] | None = None,
                 refresh_interval: float = 1.0) -> None:
        super().__init__()
        self.core = core
        self.clock = clock or (lambda: datetime.now(UTC))
        self.refresh_interval = refresh_interval
        self.main = ContainersScreen(core)
        self._bridge: ChangeBridge | None = None

    @property
    def read_only(self) -> bool:
        return bool(self.core.config.read_only)

    def now(self) -> datetime:
        return self.clock()

    def engine_state(self) -> tuple[bool, str]:
        """(connected, last error) of the inventory's link to the engine."""
        inv = self.core.inventory
        return bool(inv.connected), str(inv.last_error)

    def on_mount(self) -> None:
        self.push_screen(self.main)
        self._bridge = ChangeBridge(self, self.core.inventory.subscribe)
        self.set_interval(self.refresh_interval, self.main.refresh_table)

    def on_unmount(self) -> None:
        if self._bridge is not None:
            self._bridge.close()

    def on_containers_changed(self, message: ContainersChanged) -> None:
        if self._bridge is not None:
            self._bridge.taken()
        self.main.refresh_table()

    # -- container operations (shared by the screens and the palette) -------------------
    def open_detail(self, container_id: str, tab: str = "logs") -> None:
        self.push_screen(DetailScreen(self.core, container_id, tab if tab in TABS else "logs"))

    def container_name(self, container_id: str) -> str:
        known = self.core.inventory.get(container_id)
        return known.name if known else container_id[:12]

    def confirm_action(self, container_id: str, verb: str) -> None:
        """Ask, then apply ``verb`` to the container in a worker; the outcome is a notification."""
        if self.read_only:
            self.notify("read-only mode: actions are disabled", severity="warning")
            return
        name = self.container_name(container_id)

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(lambda: self._act(container_id, name, verb), thread=True, name=f"{verb} {name}",
                                group="actions")

        self.push_screen(ConfirmScreen(f"{verb.capitalize()} container {name}?"), answered)

    def _act(self, container_id: str, name: str, verb: str) -> None:
        try:
            self.core.action(container_id, verb)
        except ObserveError as err:
            self.call_from_thread(self.notify, str(err), title=f"{verb} failed", severity="error")
            return
        self.call_from_thread(self.notify, f"{verb}: {name} done")

    def exec_shell(self, container_id: str, argv: Sequence[str] | None = None) -> None:
        """Suspend the TUI and open a shell (or ``argv``) in the container with a real terminal."""
        if self.read_only:
            self.notify("read-only mode: exec is disabled", severity="warning")
            return
        try:
            command = list(argv) if argv else self.core.shell_command(container_id)
            session = self.core.open_exec(container_id, command)
        except ObserveError as err:
            self.notify(str(err), title="exec failed", severity="error")
            return
        try:
            with self.suspend():
                code = bridge(session)
        except SuspendNotSupported:
            session.close()
            self.notify("exec needs a real terminal (this one cannot be suspended)", severity="error")
            return
        except ObserveError as err:
            session.close()
            self.notify(str(err), title="exec failed", severity="error")
            return
        self.notify(f"{shlex.join(command)} in {self.container_name(container_id)} exited with code {code}")
        self.refresh(layout=True)

    def exec_prompt(self, container_id: str) -> None:
        def chosen(text: str | None) -> None:
            if text and text.strip():
                self.exec_shell(container_id, ["sh", "-c", text])

        self.push_screen(PromptScreen(f"Command to run interactively in {self.container_name(container_id)}:",
                                      placeholder="e.g. top, or sh -c 'cat /etc/os-release | less'"), chosen)

    def run_prompt(self, container_id: str) -> None:
        """Ask for a command line, run it with ``sh -c`` without a TTY in a worker, show its output."""

        def chosen(text: str | None) -> None:
            if text and text.strip():
                self.run_worker(lambda: self._run(container_id, text), thread=True, name="run", group="run")

        self.push_screen(PromptScreen(f"Command to run in {self.container_name(container_id)} (output shown here):",
                                      placeholder="e.g. ps aux, cat /etc/hosts, env"), chosen)

    def _run(self, container_id: str, text: str) -> None:
        try:
            code, output = self.core.run_command(container_id, ["sh", "-c", text])
        except ObserveError as err:
            self.call_from_thread(self.notify, str(err), title="run failed", severity="error")
            return
        title = f"$ {text}  (exit code {code})"
        self.call_from_thread(self.push_screen, TextScreen(title, output or "(no output)"))

    # -- help and the command palette ---------------------------------------------------
    def _bindings_of(self, owner: type, allowed: Callable[[str], bool]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for b in getattr(owner, "BINDINGS", []):
            if not isinstance(b, Binding) or not allowed(b.action):
                continue
            keys = ", ".join(k.replace("question_mark", "?").replace("slash", "/") for k in b.key.split(","))
            out.append((keys, b.description or b.action))
        return out

    def action_help(self) -> None:
        def allowed(action: str) -> bool:
            verb = action.split("(")[0]
            return not (self.read_only and verb in CONTAINER_ONLY - {"open"})

        if isinstance(self.screen, DetailScreen):
            sections = [("Container detail", self._bindings_of(DetailScreen, allowed)),
                        ("Logs tab", self._bindings_of(LogsPane, allowed)),
                        ("Inspect tab", self._bindings_of(InspectPane, allowed))]
        else:
            sections = [("Containers", self._bindings_of(ContainersScreen, allowed))]
        sections.append(("Everywhere", [("ctrl+p", "command palette"), ("ctrl+q", "quit"), ("escape", "back")]))
        self.push_screen(HelpScreen(sections))

    def selected_container(self, screen: Screen[object] | None = None) -> str | None:
        screen = screen or self.screen
        if isinstance(screen, DetailScreen):
            return screen.container_id
        if isinstance(screen, ContainersScreen):
            return screen.selected_id()
        return None

    def container_commands(self, container_id: str) -> Iterable[SystemCommand]:
        """Palette commands for one container (none of exec or actions in read-only mode)."""
        name = self.container_name(container_id)
        for tab in TABS:
            yield SystemCommand(f"{tab.capitalize()}: {name}", f"open the {tab} of {name}",
                                lambda tab=tab: self.open_detail(container_id, tab))
        if self.read_only:
            return
        yield SystemCommand(f"Shell: {name}", "open an interactive shell in the container",
                            lambda: self.exec_shell(container_id))
        yield SystemCommand(f"Exec a command: {name}", "run a command interactively with a terminal",
                            lambda: self.exec_prompt(container_id))
        yield SystemCommand(f"Run a command: {name}", "run a command and show its output",
                            lambda: self.run_prompt(container_id))
        for verb in ACTION_VERBS:
            yield SystemCommand(f"{verb.capitalize()}: {name}", f"{verb} the container (asks first)",
                                lambda verb=verb: self.confirm_action(container_id, verb))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "the keys of this screen", self.action_help)
        main = self.main
        yield SystemCommand("Toggle stopped containers", "show all containers or running ones only",
                            main.action_toggle_stopped)
        yield SystemCommand("Group by service", "group rows by service, with totals", main.action_toggle_group)
        yield SystemCommand("Filter containers", "type words or label selectors", main.action_filter)
        for col in COLUMNS:
            yield SystemCommand(f"Sort by {col.title.lower()}", "sort the containers table (again: reverse)",
                                lambda key=col.key, numeric=col.numeric: main.sort_by(
                                    key, not main.sort_descending if key == main.sort_key else numeric))
        cid = self.selected_container(screen)
        if cid is not None:
            yield from self.container_commands(cid)


class NotifyHandler(logging.Handler):
    """Shows observe's own warnings and errors as notifications while the TUI owns the terminal.

    A stream handler on stderr would draw over the screen; ``App.notify`` is safe from any thread.
    """

    def __init__(self, app: App[None]) -> None:
        super().__init__(logging.WARNING)
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            error = getattr(record, "error", "")
            self.app.notify(f"{message}: {error}" if error else message,
                            severity="error" if record.levelno >= logging.ERROR else "warning")
        except Exception:  # logging must never raise into the code that logged
            self.handleError(record)


def make_app(core: CoreView, *, clock: Callable[[], datetime] | None = None,
             refresh_interval: float = 1.0) -> ObserveApp:
    """Build the TUI over a started core (the one factory for the CLI, the tests and the bench)."""
    return ObserveApp(core, clock=clock, refresh_interval=refresh_interval)
