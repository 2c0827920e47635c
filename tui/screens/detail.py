"""The container detail screen: one tab per pane of ``tui.panes``; escape goes back to the list.

Only the tab opened is built at first (an open costs one pane, not five); the others are
built when first shown, and panes that poll skip it while their tab is hidden.

Panes fetch in thread workers (the core's calls block on the engine) and draw on the UI
thread; exec, run and actions are requests posted up to the app, which asks and runs them
(the same rules as on the list: ``tui.actions``). The line under the title offers the actions
valid in the container's state, then shows one pending while the engine works, then its result.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane

from tui.actions import ActionTracker, action_bindings, offered, status_text
from tui.coreview import CoreView
from tui.messages import ActionChanged, ActOn, ExecPrompt, ExecShell, OpenServiceLogs, RunPrompt
from tui.panes import PANES, InspectPane, LogsPane
from tui.widgets import EngineBanner, KeyHints


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
        Binding("L", "service_logs", "Service logs", show=False),
        *action_bindings(show_restart=False),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    DetailScreen #detail-title { height: 1; background: $primary; color: $text; padding: 0 1; text-style: bold; }
    DetailScreen #detail-actions { height: 1; background: $boost; padding: 0 1; }
    DetailScreen TabbedContent { height: 1fr; }
    DetailScreen ContentSwitcher { height: 1fr; }
    DetailScreen TabPane { height: 1fr; padding: 0; }
    """

    def __init__(self, core: CoreView, container_id: str, tab: str = "logs",
                 actions: ActionTracker | None = None) -> None:
        super().__init__()
        self.core = core
        self.actions = actions or ActionTracker()
        self.container_id = container_id
        self.initial_tab = tab
        known = core.inventory.get(container_id)
        self.container_name = known.name if known else container_id[:12]

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="detail-title")
        yield Static(self._actions_line(), id="detail-actions")
        yield EngineBanner(self.core.inventory)
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            for tab, title, pane in PANES:
                with TabPane(title, id=tab):
                    if tab == self.initial_tab:  # the others are built when first shown
                        yield pane(self.core, self.container_id, self.container_name)
        yield KeyHints()

    def _title(self) -> str:
        known = self.core.inventory.get(self.container_id)
        if known is None:
            return f"{self.container_name} · gone"
        state = f"{known.state} ({known.health})" if known.health else known.state
        return f"{known.name} · {known.short_id} · {known.image} · {state}"

    def _actions_line(self) -> str:
        """The action pending or just finished, then the actions valid now with their keys."""
        known = self.core.inventory.get(self.container_id)
        status = status_text(self.actions, self.container_id)
        parts = [status] if status else []
        if self.core.config.read_only:
            parts.append("read-only: no actions")
        elif known is not None:
            parts.append(f"actions: {offered(known.state)}")
        return " · ".join(parts)

    def on_action_changed(self, message: ActionChanged) -> None:
        if message.container_id == self.container_id:
            self._refresh_title()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._refresh_title)
        self.call_after_refresh(self._focus_tab, self.initial_tab)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = str(event.pane.id)
        if not event.pane.children:
            make = next(make for t, _, make in PANES if t == tab)
            event.pane.mount(make(self.core, self.container_id, self.container_name))
            self.call_after_refresh(self._focus_tab, tab)
            return
        self._focus_tab(tab)

    def _focus_tab(self, tab: str) -> None:
        """Give the keys to the tab's main widget, so its bindings work at once."""
        target = {"logs": "#log-view", "inspect": "#inspect-tree", "processes": "#top-table",
                  "events": "#events-table", "stats": "#stats-pane"}.get(tab)
        found = self.query(target) if target else None
        if found:
            found.first().focus()

    def _refresh_title(self) -> None:
        for title in self.query("#detail-title").results(Static):
            title.update(self._title(), layout=False)
        for line in self.query("#detail-actions").results(Static):
            line.update(self._actions_line(), layout=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in ("exec", "exec_command", "run", "act", "pause") and self.core.config.read_only)

    def action_service_logs(self) -> None:
        self.post_message(OpenServiceLogs(self.container_id))

    def action_back(self) -> None:
        """Close an open search box, else go back. Works at any moment, composed or not (keys can come first)."""
        for pane in [*self.query(LogsPane), *self.query(InspectPane)]:
            if pane.close_inputs():
                return
        if self.is_current:
            self.dismiss(None)

    def action_tab(self, tab: str) -> None:
        for tabs in self.query(TabbedContent).results(TabbedContent):
            tabs.active = tab

    def action_exec(self) -> None:
        self.post_message(ExecShell(self.container_id))

    def action_exec_command(self) -> None:
        self.post_message(ExecPrompt(self.container_id))

    def action_run(self) -> None:
        self.post_message(RunPrompt(self.container_id))

    def action_act(self, verb: str) -> None:
        self.post_message(ActOn(self.container_id, verb))

    def action_pause(self) -> None:
        known = self.core.inventory.get(self.container_id)
        self.post_message(ActOn(self.container_id, "unpause" if known is not None and known.state == "paused"
                                else "pause"))
