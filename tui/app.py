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

from textual.app import App, SuspendNotSupported, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from observe.errors import ObserveError
from tui.actions import ACTION_VERBS, FORCED_STATES, PENDING, VALID_VERBS, ActionTracker, Batch, plan, verb_allowed
from tui.bridge import ChangeBridge, ContainersChanged
from tui.coreview import CoreView
from tui.logview import LogView
from tui.messages import (
    ActionChanged,
    ActOn,
    ActOnMany,
    ExecPrompt,
    ExecShell,
    OpenDetail,
    OpenServiceLogs,
    RunPrompt,
)
from tui.modals import ConfirmScreen, HelpScreen, PromptScreen, TextScreen
from tui.panes import TABS, InspectPane, LogsPane
from tui.rows import COLUMNS
from tui.screens.containers import ContainersScreen
from tui.screens.detail import DetailScreen
from tui.screens.service import ServiceLogsScreen
from tui.terminal import bridge

__all__ = ["PENDING", "VALID_VERBS", "CoreView", "ObserveApp", "make_app", "verb_allowed"]


OUTPUT_LINES = 2000
OUTPUT_CHARS = 200_000
"""At most this much of a command's output is drawn (its end): drawing megabytes froze the UI for a minute."""


def output_tail(output: str, lines: int = OUTPUT_LINES, chars: int = OUTPUT_CHARS) -> str:
    """The end of a command's output, at most ``lines`` lines and ``chars`` characters, saying what was left out."""
    kept = output[-chars:] if len(output) > chars else output
    parts = kept.split("\n")
    if len(parts) > lines:
        parts = parts[-lines:]
    tail = "\n".join(parts)
    if len(tail) == len(output):
        return output
    left = len(output) - len(tail)
    return f"[… the first {left:,} characters are left out: run it with exec (E) to page it …]\n{tail}"


KEY_NAMES = {"question_mark": "?", "slash": "/", "exclamation_mark": "!"}
"""How the help writes keys whose Textual names are words."""
CONTAINER_ONLY = frozenset({"exec", "exec_command", "run", "act", "pause", "open", "service", "mark"})


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
        self.tracker = ActionTracker()
        self.main = ContainersScreen(core, self.clock, self.tracker)
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

    # -- requests posted up by the screens -------------------------------------------------
    def on_open_detail(self, message: OpenDetail) -> None:
        self.open_detail(message.container_id, message.tab)

    def on_open_service_logs(self, message: OpenServiceLogs) -> None:
        self.open_service_logs(message.container_id)

    def on_exec_shell(self, message: ExecShell) -> None:
        self.exec_shell(message.container_id, message.argv)

    def on_exec_prompt(self, message: ExecPrompt) -> None:
        self.exec_prompt(message.container_id)

    def on_run_prompt(self, message: RunPrompt) -> None:
        self.run_prompt(message.container_id)

    def on_act_on(self, message: ActOn) -> None:
        self.confirm_action(message.container_id, message.verb)

    def on_act_on_many(self, message: ActOnMany) -> None:
        self.confirm_many(message.container_ids, message.verb, message.scope)

    # -- container operations (shared by the screens and the palette) -------------------
    def open_detail(self, container_id: str, tab: str = "logs") -> None:
        self.push_screen(DetailScreen(self.core, container_id, tab if tab in TABS else "logs", self.tracker))

    def open_service_logs(self, container_id: str) -> None:
        """Open the merged logs of every replica of the container's service (a standalone container has none)."""
        known = self.core.inventory.get(container_id)
        if known is None or known.service.kind == "container":
            name = known.name if known else container_id[:12]
            self.notify(f"{name} is not a replica of a service: l shows its own logs", severity="warning")
            return
        self.push_screen(ServiceLogsScreen(self.core, known.service))

    def container_name(self, container_id: str) -> str:
        known = self.core.inventory.get(container_id)
        return known.name if known else container_id[:12]

    def confirm_action(self, container_id: str, verb: str) -> None:
        """Ask, then apply ``verb`` to the container in a worker; the outcome is a notification."""
        if self.read_only:
            self.notify("read-only mode: actions are disabled", severity="warning")
            return
        name = self.container_name(container_id)
        known = self.core.inventory.get(container_id)
        state = known.state if known is not None else ""
        if not verb_allowed(state, verb):
            self.notify(f"cannot {verb} {name}: it is {state}", severity="warning")
            return
        doing = self.tracker.pending(container_id)
        if doing is not None:
            self.notify(f"{name} is {PENDING.get(doing, doing)}: wait for it to finish", severity="warning")
            return
        question = f"{verb.capitalize()} container {name}?"
        if verb == "remove" and state in FORCED_STATES:
            question = f"Remove container {name}? It is {state}: it will be killed and force-removed."

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"{PENDING.get(verb, verb)} {name}…", timeout=3)
                self.run_worker(lambda: self._act(container_id, name, verb), thread=True, name=f"{verb} {name}",
                                group="actions")

        self.push_screen(ConfirmScreen(question), answered)

    def _act(self, container_id: str, name: str, verb: str) -> None:
        self.tracker.start(container_id, verb)
        self.call_from_thread(self._action_changed, container_id)
        try:
            self.core.action(container_id, verb)
        except ObserveError as err:
            self.tracker.finish(container_id, verb, str(err))
            self.call_from_thread(self._action_changed, container_id)
            self.call_from_thread(self.notify, str(err), title=f"{verb} failed", severity="error")
            return
        self.tracker.finish(container_id, verb)
        self.call_from_thread(self._action_changed, container_id)
        self.call_from_thread(self.notify, f"{verb}: {name} done")

    def _action_changed(self, container_id: str) -> None:
        """An action began or ended: redraw the table, and tell the other screens (a detail screen shows it)."""
        self.main.refresh_table()
        for screen in self.screen_stack:
            if screen is not self.main:
                screen.post_message(ActionChanged(container_id))

    def confirm_many(self, container_ids: Sequence[str], verb: str, scope: str) -> None:
        """Ask, naming what will happen, then apply ``verb`` to those of the containers whose state allows it.

        Each runs in its own worker (a slow stop does not hold the others back); each row shows
        ``stopping…`` and then its outcome; one notification sums up (ok, failed with the engine's
        error, skipped because of their state).
        """
        if self.read_only:
            self.notify("read-only mode: actions are disabled", severity="warning")
            return
        known = [c for c in (self.core.inventory.get(cid) for cid in container_ids) if c is not None]
        chosen = plan(verb, scope, known)
        if not chosen.apply:
            self.notify(f"cannot {verb} {scope}: {chosen.skipped_text() or 'no containers'}", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            batch = Batch(chosen)
            for c in chosen.apply:
                self.tracker.start(c.id, verb)
                self.run_worker(lambda c=c: self._act_in(batch, c.id, c.name), thread=True,
                                name=f"{verb} {c.name}", group="actions")
            self.main.refresh_table()

        self.push_screen(ConfirmScreen(chosen.question()), answered)

    def _act_in(self, batch: Batch, container_id: str, name: str) -> None:
        verb = batch.plan.verb
        error = ""
        try:
            self.core.action(container_id, verb)
        except ObserveError as err:
            error = str(err) or type(err).__name__
        self.tracker.finish(container_id, verb, error)
        last = batch.done(name, error)
        self.call_from_thread(self._action_changed, container_id)
        if last:
            self.call_from_thread(self.notify, batch.summary(), title=f"{verb} {batch.plan.scope}",
                                  severity="error" if batch.failed else "information", timeout=10)

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
        self.call_from_thread(self.push_screen, TextScreen(title, output_tail(output) or "(no output)"))

    # -- help and the command palette ---------------------------------------------------
    def _bindings_of(self, owner: type, allowed: Callable[[str], bool]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for b in getattr(owner, "BINDINGS", []):
            if not isinstance(b, Binding) or not allowed(b.action):
                continue
            keys = ", ".join(KEY_NAMES.get(k, k) for k in b.key.split(","))
            out.append((keys, b.description or b.action))
        return out

    def action_help(self) -> None:
        def allowed(action: str) -> bool:
            verb = action.split("(")[0]
            return not (self.read_only and verb in CONTAINER_ONLY - {"open"})

        if isinstance(self.screen, DetailScreen):
            sections = [("Container detail", self._bindings_of(DetailScreen, allowed)),
                        ("Logs tab", self._bindings_of(LogsPane, allowed)),
                        ("Log lines", self._bindings_of(LogView, allowed)),
                        ("Inspect tab", self._bindings_of(InspectPane, allowed))]
        elif isinstance(self.screen, ServiceLogsScreen):
            sections = [("Service logs", self._bindings_of(ServiceLogsScreen, allowed)),
                        ("Logs", self._bindings_of(LogsPane, allowed)),
                        ("Log lines", self._bindings_of(LogView, allowed))]
        else:
            sections = [("Containers", self._bindings_of(ContainersScreen, allowed))]
            if not self.read_only:
                sections.append(("Several containers", [
                    ("space, u", "mark a row / unmark all: r s S k d p then act on every marked container"),
                    ("r, s on a header", "grouped (g): restart / stop every container of that group"),
                    ("R, T", "restart / stop every replica of the service under the cursor"),
                    ("", "each asks first, skips those whose state does not allow it, shows progress in STATE")]))
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
        known = self.core.inventory.get(container_id)
        if known is not None and known.service.kind != "container":
            yield SystemCommand(f"Service logs: {known.service.name}", "the merged logs of every replica",
                                lambda: self.open_service_logs(container_id))
        if self.read_only:
            return
        yield SystemCommand(f"Shell: {name}", "open an interactive shell in the container",
                            lambda: self.exec_shell(container_id))
        yield SystemCommand(f"Exec a command: {name}", "run a command interactively with a terminal",
                            lambda: self.exec_prompt(container_id))
        yield SystemCommand(f"Run a command: {name}", "run a command and show its output",
                            lambda: self.run_prompt(container_id))
        for verb in ACTION_VERBS:
            if known is not None and not verb_allowed(known.state, verb):
                continue
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
        yield SystemCommand("Problems only", "OOM-killed, exited non-zero, restarting or unhealthy (again: all)",
                            main.action_problems)
        yield SystemCommand("Problems first", "sort the worst problems first, then by the sort column",
                            main.action_worst_first)
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
