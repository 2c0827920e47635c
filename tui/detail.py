"""The container detail screen: Logs, Stats, Inspect, Processes and Events tabs.

Panes fetch in thread workers (the core's calls block on the engine) and draw on the UI
thread; the logs pane is fed by the core's follower through a bounded ``LogFeed``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Sparkline, Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from observe.errors import ObserveError
from observe.model import ContainerEvent, Record
from tui.bridge import EngineEventArrived, LogFeed, LogsPending
from tui.coreview import CoreView
from tui.inspectmodel import env_rows, label_rows, masked_document, matching_paths, mount_rows, port_rows
from tui.logmodel import LogEntry, LogQuery, entry_from_doc, find_match, next_level, pretty_record, render_lines
from tui.logview import LogView
from tui.modals import PromptScreen, TextScreen
from tui.rows import block_bytes, cpu_percent_series, fmt_bytes, fmt_memory, memory_used, net_bytes, series
from tui.widgets import EngineBanner

if TYPE_CHECKING:
    from tui.app import ObserveApp

LOG_HISTORY = 10_000
"""Entries a logs pane keeps (all levels); the view shows the filtered ones among them."""
DRAIN_INTERVAL = 0.1
"""At most this often (seconds) the logs pane takes new records: 10 screen updates a second."""
QUIET_EVENTS = frozenset({"top", "exec_create", "exec_start", "exec_detach", "resize", "attach", "detach",
                          "archive-path", "extract-to-dir", "copy", "export", "commit"})
"""Events the Events pane leaves out: the TUI's own polling and exec plumbing would drown the rest."""
TABS = ("logs", "stats", "inspect", "processes", "events")


def _app(widget: Any) -> ObserveApp:
    app: ObserveApp = widget.app
    return app


class LogsPane(Vertical):
    """The container's records, live, with level and regex filters, search, pause, save."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "level", "Level"),
        Binding("f", "regex", "Regex"),
        Binding("slash", "search", "Search"),
        Binding("n", "find(True)", "Next", show=False),
        Binding("N", "find(False)", "Previous", show=False),
        Binding("space", "pause", "Pause"),
        Binding("t", "timestamps", "Times", show=False),
        Binding("w", "wrap", "Wrap", show=False),
        Binding("s", "save", "Save", show=False),
    ]
    DEFAULT_CSS = """
    LogsPane #log-status { height: 1; background: $boost; padding: 0 1; }
    LogsPane Input { display: none; }
    LogsPane Input.shown { display: block; }
    LogsPane LogView { height: 1fr; }
    """

    def __init__(self, core: CoreView, container_id: str, name: str) -> None:
        super().__init__(id="logs-pane")
        self.core = core
        self.container_id = container_id
        self.container_name = name
        self.buffer: deque[LogEntry] = deque(maxlen=LOG_HISTORY)
        self.query_ = LogQuery()
        self.paused = False
        self._seq = 0
        self._stop: Callable[[], None] | None = None
        self._last_drain = 0.0
        self._drain_timer = False
        self.feed = LogFeed(self, maxlen=LOG_HISTORY)
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status")
        yield Input(placeholder="search (enter: find, n/N: next/previous, escape: close)", id="log-search")
        yield Input(placeholder="regex filter on the line (empty: none)", id="log-regex")
        yield LogView(max_entries=LOG_HISTORY, id="log-view")

    def on_mount(self) -> None:
        self._status()
        self.run_worker(self._follow, thread=True, name="follow-logs", group="logs")

    def _follow(self) -> None:
        try:
            self._stop = self.core.follow_logs(self.container_id, self._on_records, tail=500)
        except ObserveError as err:
            self.error = str(err)
            _app(self).call_from_thread(self._status)
            _app(self).call_from_thread(_app(self).notify, str(err), severity="error")

    def _on_records(self, records: list[Record]) -> None:
        self.feed.on_records(records)

    def on_unmount(self) -> None:
        self.feed.close()
        if self._stop is not None:
            self._stop()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    # -- new records -------------------------------------------------------------------
    def on_logs_pending(self, message: LogsPending) -> None:
        message.stop()
        wait = DRAIN_INTERVAL - (time.monotonic() - self._last_drain)
        if wait > 0:
            if not self._drain_timer:
                self._drain_timer = True
                self.set_timer(wait, self.drain)
            return
        self.drain()

    def drain(self) -> None:
        """Take the pending records into the buffer and, unless paused, into the view."""
        self._drain_timer = False
        self._last_drain = time.monotonic()
        records = self.feed.drain()
        if not records:
            return
        fresh: list[LogEntry] = []
        for r in records:
            self._seq += 1
            fresh.append(entry_from_doc(self._seq, r.doc, r.time_ns, r.level, r.stream))
        self.buffer.extend(fresh)
        if not self.paused:
            keeps = self.query_.keeps
            self.view.append(e for e in fresh if keeps(e))
        self._status()

    def _refilter(self) -> None:
        keeps = self.query_.keeps
        self.view.set_entries(e for e in self.buffer if keeps(e))
        self._status()

    def _status(self) -> None:
        q = self.query_
        parts = [
            f"level ≥ {q.min_level}" if q.min_level else "all levels",
            f"regex /{q.pattern}/" if q.pattern else "",
            f"search “{self.view.search}”" if self.view.search else "",
            "[b]PAUSED[/b]" if self.paused else "following",
            f"{len(self.view.entries)}/{len(self.buffer)} lines",
            f"{self.feed.dropped} dropped" if self.feed.dropped else "",
            q.error,
            self.error,
        ]
        self.query_one("#log-status", Static).update(" · ".join(p for p in parts if p))

    # -- actions -----------------------------------------------------------------------
    def action_level(self) -> None:
        self.set_level(next_level(self.query_.min_level))

    def set_level(self, level: str) -> None:
        """Show only entries at ``level`` and above ("" for all)."""
        self.query_ = LogQuery.make(level, self.query_.pattern)
        self._refilter()

    def set_regex(self, pattern: str) -> None:
        self.query_ = LogQuery.make(self.query_.min_level, pattern)
        self._refilter()

    def action_regex(self) -> None:
        box = self.query_one("#log-regex", Input)
        box.add_class("shown")
        box.focus()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.add_class("shown")
        box.focus()

    def close_inputs(self) -> bool:
        """Hide an open search/regex box; True if one was open."""
        closed = False
        for box in self.query(Input):
            if box.has_class("shown"):
                box.remove_class("shown")
                closed = True
        if closed:
            self.view.focus()
        return closed

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-search":
            self.view.set_options(search=event.value)
            self._status()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "log-regex":
            self.set_regex(event.value)
        else:
            self.view.set_options(search=event.value)
            self.action_find(True)
        event.input.remove_class("shown")
        self.view.focus()

    def action_find(self, forward: bool) -> None:
        view = self.view
        entries = list(view.entries)
        start = view.cursor_index()
        if start is None:
            start = len(entries) if not forward else -1
        found = find_match(entries, view.search, start, forward, view.timestamps)
        if found is None:
            self.notify("no match" if view.search else "nothing to search for: press /", severity="warning")
            return
        view.move_to(found)

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self._refilter()
        self._status()

    def action_timestamps(self) -> None:
        self.view.set_options(timestamps=not self.view.timestamps)

    def action_wrap(self) -> None:
        self.view.set_options(wrap=not self.view.wrap)

    def action_save(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        default = str(Path.cwd() / f"{self.container_name}-{stamp}.log")

        def save(path: str | None) -> None:
            if path:
                self.save_to(Path(path))

        self.app.push_screen(PromptScreen("Save the shown lines to:", default), save)

    def save_to(self, path: Path) -> None:
        """Write the lines shown (filters applied) to ``path``."""
        try:
            path.write_text(render_lines(self.view.entries, self.view.timestamps), encoding="utf-8")
        except OSError as err:
            self.notify(f"cannot save to {path}: {err.strerror or err}", severity="error")
            return
        self.notify(f"saved {len(self.view.entries)} lines to {path}")

    def on_log_view_selected(self, message: LogView.Selected) -> None:
        self.app.push_screen(TextScreen(f"record at {message.entry.stamp()}", pretty_record(message.entry.doc)))


class StatsPane(VerticalScroll):
    """Live graphs from the sampler's history: CPU, memory against the limit, network, block I/O."""

    DEFAULT_CSS = """
    StatsPane Label { margin-top: 1; }
    StatsPane Sparkline { height: 3; }
    """
    GRAPHS = (("cpu", "CPU"), ("mem", "Memory"), ("rx", "Network in"), ("tx", "Network out"),
              ("blkr", "Block read"), ("blkw", "Block write"))

    def __init__(self, core: CoreView, container_id: str) -> None:
        super().__init__(id="stats-pane")
        self.core = core
        self.container_id = container_id

    def compose(self) -> ComposeResult:
        for key, title in self.GRAPHS:
            yield Label(title, id=f"label-{key}")
            yield Sparkline([], id=f"spark-{key}", summary_function=max)

    def on_mount(self) -> None:
        self.refresh_stats()
        self.set_interval(1.0, self.refresh_stats)

    def refresh_stats(self) -> None:
        stats = self.core.sampler.snapshot().get(self.container_id)
        if stats is None:
            self.query_one("#label-cpu", Label).update("CPU: no samples (the container is not running)")
            return
        history = stats.history
        minutes = max(0.0, (history[-1].time - history[0].time) / 60) if history else 0.0
        cpu = cpu_percent_series(history)
        mem = [float(memory_used(s) or 0) for s in history]
        limit = stats.limits.memory_bytes
        rx = series(history, lambda s: None if (n := net_bytes(s)) is None else n[0])
        tx = series(history, lambda s: None if (n := net_bytes(s)) is None else n[1])
        br = series(history, lambda s: None if (b := block_bytes(s)) is None else b[0])
        bw = series(history, lambda s: None if (b := block_bytes(s)) is None else b[1])
        span = f"last {minutes:.1f} min"
        values = {
            "cpu": (cpu, f"CPU {cpu[-1] if cpu else 0:.1f}% of one core · peak {max(cpu, default=0):.1f}% · {span}"),
            "mem": (mem, f"Memory {fmt_memory(memory_used(stats.latest), limit or None)}"
                         + (f" ({100 * mem[-1] / limit:.1f}% of the limit)" if limit and mem else " (no limit)")),
            "rx": (rx, f"Network in {fmt_bytes(rx[-1] if rx else None)}/s"),
            "tx": (tx, f"Network out {fmt_bytes(tx[-1] if tx else None)}/s"),
            "blkr": (br, f"Block read {fmt_bytes(br[-1] if br else None)}/s"),
            "blkw": (bw, f"Block write {fmt_bytes(bw[-1] if bw else None)}/s"),
        }
        for key, (data, label) in values.items():
            self.query_one(f"#label-{key}", Label).update(label)
            self.query_one(f"#spark-{key}", Sparkline).data = data or [0.0]


class InspectPane(Vertical):
    """The inspect document as a searchable tree, with environment, ports, mounts and labels as tables."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "reveal", "Show secrets"),
        Binding("slash", "search", "Search"),
    ]
    DEFAULT_CSS = """
    InspectPane #inspect-search { display: none; }
    InspectPane #inspect-search.shown { display: block; }
    InspectPane Horizontal { height: 1fr; }
    InspectPane Tree { width: 1fr; }
    InspectPane VerticalScroll { width: 1fr; }
    InspectPane DataTable { height: auto; max-height: 16; margin-bottom: 1; }
    InspectPane .title { text-style: bold; }
    """

    def __init__(self, core: CoreView, container_id: str) -> None:
        super().__init__(id="inspect-pane")
        self.core = core
        self.container_id = container_id
        self.doc: dict[str, Any] = {}
        self.reveal = False
        self.search = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search paths and values", id="inspect-search")
        with Horizontal():
            yield Tree("inspect", id="inspect-tree")
            with VerticalScroll():
                for key, title in (("env", "Environment"), ("ports", "Ports"), ("mounts", "Mounts"),
                                   ("labels", "Labels")):
                    yield Label(title, classes="title")
                    yield DataTable(id=f"table-{key}", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.run_worker(self._fetch, thread=True, name="inspect", group="inspect", exclusive=True)

    def _fetch(self) -> None:
        try:
            doc = dict(self.core.inspect(self.container_id))
        except ObserveError as err:
            _app(self).call_from_thread(_app(self).notify, str(err), severity="error")
            return
        _app(self).call_from_thread(self.show, doc)

    def show(self, doc: dict[str, Any]) -> None:
        """Draw ``doc`` (secrets masked unless revealed)."""
        self.doc = doc
        self._draw()

    def _draw(self) -> None:
        shown = masked_document(self.doc, self.reveal)
        tree: Tree[str] = self.query_one("#inspect-tree", Tree)
        tree.clear()
        tree.root.label = Text(f"{self.doc.get('Name', '').lstrip('/')} {self.doc.get('Id', '')}")
        matches = set(matching_paths(shown, self.search)) if self.search else set()
        self._add(tree.root, shown, "", matches)
        tree.root.expand()
        tables: dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]] = {
            "env": (("NAME", "VALUE"), list(env_rows(self.doc, self.reveal))),
            "ports": (("PORT", "PUBLISHED"), list(port_rows(self.doc))),
            "mounts": (("TYPE", "SOURCE", "DESTINATION", "MODE"), list(mount_rows(self.doc))),
            "labels": (("LABEL", "VALUE"), list(label_rows(self.doc))),
        }
        for key, (headers, rows) in tables.items():
            table = self.query_one(f"#table-{key}", DataTable)
            table.clear(columns=True)
            table.add_columns(*headers)
            for row in rows or [tuple("-" for _ in headers)]:
                table.add_row(*row)

    def _add(self, node: TreeNode[str], value: Any, path: str, matches: set[str]) -> bool:
        """Add ``value``'s children under ``node``; True if a search match is inside (then it is expanded)."""
        found = False
        items: list[tuple[str, Any, str]]
        if isinstance(value, dict):
            items = [(str(k), v, f"{path}.{k}" if path else str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"[{i}]", v, f"{path}[{i}]") for i, v in enumerate(value)]
        else:
            return False
        for label, child, child_path in items:
            hit = any(m == child_path or m.startswith(child_path + ".") or m.startswith(child_path + "[")
                      for m in matches)
            if isinstance(child, dict | list) and child:
                branch = node.add(Text(label, style="bold yellow" if child_path in matches else ""), data=child_path)
                inner = self._add(branch, child, child_path, matches)
                if inner or (not matches and path == "" and label in ("State", "Config")):
                    branch.expand()
                found = found or inner or child_path in matches
            else:
                text = Text(f"{label}: ", style="bold")
                text.append(repr(child) if isinstance(child, str) else str(child))
                if child_path in matches:
                    text.stylize("black on yellow")
                node.add_leaf(text, data=child_path)
                found = found or hit
        return found

    def action_reveal(self) -> None:
        self.reveal = not self.reveal
        self.notify("secrets shown" if self.reveal else "secrets masked")
        self._draw()

    def action_search(self) -> None:
        box = self.query_one("#inspect-search", Input)
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search = event.value
        self._draw()
        count = len(matching_paths(masked_document(self.doc, self.reveal), self.search)) if self.search else 0
        if self.search:
            self.notify(f"{count} match{'es' if count != 1 else ''} for “{self.search}”")
        self.query_one("#inspect-tree", Tree).focus()

    def close_inputs(self) -> bool:
        box = self.query_one("#inspect-search", Input)
        if box.has_class("shown"):
            box.remove_class("shown")
            self.query_one("#inspect-tree", Tree).focus()
            return True
        return False


class ProcessesPane(Vertical):
    """``docker top`` of the container, refreshed every two seconds."""

    def __init__(self, core: CoreView, container_id: str) -> None:
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
        self.run_worker(self._fetch, thread=True, name="top", group="top", exclusive=True)

    def _fetch(self) -> None:
        try:
            titles, rows = self.core.top(self.container_id)
        except ObserveError as err:
            _app(self).call_from_thread(self.show, [], [], str(err))
            return
        _app(self).call_from_thread(self.show, titles, rows, "")

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


class EventsPane(Vertical):
    """The container's recent engine events, newest at the bottom, live."""

    def __init__(self, core: CoreView, container_id: str) -> None:
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
            if event.action not in QUIET_EVENTS:
                self.add(event)
        self._unsubscribe = self.core.inventory.subscribe_events(self._on_event)

    def _on_event(self, event: ContainerEvent) -> None:
        if event.container_id == self.container_id and event.action not in QUIET_EVENTS:
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


class DetailScreen(Screen[None]):
    """One container in depth. Escape goes back to the list."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("1", "tab('logs')", "Logs", show=False),
        Binding("2", "tab('stats')", "Stats", show=False),
        Binding("3", "tab('inspect')", "Inspect", show=False),
        Binding("4", "tab('processes')", "Processes", show=False),
        Binding("5", "tab('events')", "Events", show=False),
        Binding("e", "exec", "Shell"),
        Binding("E", "exec_command", "Exec…", show=False),
        Binding("x", "run", "Run…"),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    DetailScreen #detail-title { height: 1; background: $primary; color: $text; padding: 0 1; text-style: bold; }
    DetailScreen TabbedContent { height: 1fr; }
    DetailScreen ContentSwitcher { height: 1fr; }
    DetailScreen TabPane { height: 1fr; padding: 0; }
    """

    def __init__(self, core: CoreView, container_id: str, tab: str = "logs") -> None:
        super().__init__()
        self.core = core
        self.container_id = container_id
        self.initial_tab = tab
        known = core.inventory.get(container_id)
        self.container_name = known.name if known else container_id[:12]

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="detail-title")
        yield EngineBanner()
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane("Logs", id="logs"):
                yield LogsPane(self.core, self.container_id, self.container_name)
            with TabPane("Stats", id="stats"):
                yield StatsPane(self.core, self.container_id)
            with TabPane("Inspect", id="inspect"):
                yield InspectPane(self.core, self.container_id)
            with TabPane("Processes", id="processes"):
                yield ProcessesPane(self.core, self.container_id)
            with TabPane("Events", id="events"):
                yield EventsPane(self.core, self.container_id)
        yield Footer()

    def _title(self) -> str:
        known = self.core.inventory.get(self.container_id)
        if known is None:
            return f"{self.container_name} · gone"
        state = f"{known.state} ({known.health})" if known.health else known.state
        return f"{known.name} · {known.short_id} · {known.image} · {state}"

    def on_mount(self) -> None:
        self.set_interval(1.0, self._refresh_title)
        self.call_after_refresh(self._focus_tab, self.initial_tab)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(str(event.pane.id))

    def _focus_tab(self, tab: str) -> None:
        """Give the keys to the tab's main widget, so its bindings work at once."""
        target = {"logs": "#log-view", "inspect": "#inspect-tree", "processes": "#top-table",
                  "events": "#events-table", "stats": "#stats-pane"}.get(tab)
        found = self.query(target) if target else None
        if found:
            found.first().focus()

    def _refresh_title(self) -> None:
        self.query_one("#detail-title", Static).update(self._title())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in ("exec", "exec_command", "run") and self.core.config.read_only)

    def action_back(self) -> None:
        for pane in (self.query_one(LogsPane), self.query_one(InspectPane)):
            if pane.close_inputs():
                return
        self.dismiss(None)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_exec(self) -> None:
        _app(self).exec_shell(self.container_id)

    def action_exec_command(self) -> None:
        _app(self).exec_prompt(self.container_id)

    def action_run(self) -> None:
        _app(self).run_prompt(self.container_id)
