"""The Logs tab: the container's records, live, with level and regex filters, search, pause, save.

The core's follower calls back from its own thread into a bounded ``LogFeed``; the pane
drains it at most ``DRAIN_INTERVAL`` apart, so the screen updates ten times a second at most.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from observe.errors import ObserveError
from observe.model import Record, StreamState
from tui.bridge import LogFeed, LogsPending, LogStreamChanged
from tui.coreview import CoreView
from tui.logmodel import (
    LogEntry,
    LogHistory,
    LogQuery,
    entry_from_doc,
    find_match,
    next_level,
    pretty_record,
    render_records,
)
from tui.logview import LogView
from tui.modals import PromptScreen, TextScreen

LOG_HISTORY = 100_000
"""Entries a logs pane keeps at most (all levels; also at most ``LOG_BYTES``); the view shows the filtered ones."""
LOG_BYTES = 64 << 20
PENDING_MAX = 20_000
"""Records waiting for the UI at most (beyond, the oldest are dropped and counted)."""
DRAIN_INTERVAL = 0.1
"""At most this often (seconds) the logs pane takes new records: 10 screen updates a second."""


def stream_text(state: StreamState) -> str:
    """The stream's state as the status line says it (markup): what it does, and what the user can do."""
    detail = escape(state.detail)
    if state.kind == "following":
        return "following"
    if state.kind == "retrying":
        return f"[b yellow]retrying[/]: {detail}" if detail else "[b yellow]retrying[/]"
    if state.kind == "waiting":
        return f"[yellow]waiting[/]: {detail}" if detail else "[yellow]waiting[/]"
    if state.kind == "ended":
        return f"[b]ended[/]: {detail} · R to retry" if detail else "[b]ended[/] · R to retry"
    return f"[b red]error[/]: {detail} · R to retry"


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
        Binding("R", "retry", "Retry", show=False),
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
        self.buffer = LogHistory(LOG_HISTORY, LOG_BYTES)
        self.frozen: list[LogEntry] | None = None
        self.query_ = LogQuery()
        self.paused = False
        self._seq = 0
        self._stop: Callable[[], None] | None = None
        self._last_drain = 0.0
        self._drain_timer = False
        self.feed = LogFeed(self, maxlen=PENDING_MAX)
        self.stream = StreamState("following")
        self._lock = threading.Lock()
        self._closed = False

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status")
        yield Input(placeholder="search (enter: find, n/N: next/previous, escape: close)", id="log-search")
        yield Input(placeholder="regex filter on the line (empty: none)", id="log-regex")
        yield LogView(max_entries=LOG_HISTORY, id="log-view")

    def on_mount(self) -> None:
        self._status()
        self._start()

    def _start(self) -> None:
        self.run_worker(self._follow, thread=True, name="follow-logs", group="logs")

    def _follow(self) -> None:
        """Open the stream (a worker: it blocks on the engine); a pane closed meanwhile stops it at once."""
        try:
            stop = self.core.follow_logs(self.container_id, self._on_records, tail=500, on_state=self._on_state)
        except ObserveError as err:
            self._on_state(StreamState("error", str(err)))
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self._stop = stop
        if closed:
            stop()

    def _on_records(self, records: list[Record]) -> None:
        self.feed.on_records(records)

    def _on_state(self, state: StreamState) -> None:
        """The core's callback (any thread): a message, which an unmounted pane simply never gets."""
        self.post_message(LogStreamChanged(state))

    def on_log_stream_changed(self, message: LogStreamChanged) -> None:
        message.stop()
        self.stream = message.state
        self._status()

    def _stop_stream(self) -> None:
        with self._lock:
            stop, self._stop = self._stop, None
        if stop is not None:
            stop()

    def on_unmount(self) -> None:
        with self._lock:
            self._closed = True
        self.feed.close()
        self._stop_stream()

    def action_retry(self) -> None:
        """Reopen a stream that ended or failed, from its last 500 lines again."""
        if self.stream.kind not in ("error", "ended"):
            self.notify(f"the stream is {self.stream.kind}: nothing to retry")
            return
        self._stop_stream()
        self.feed.drain()
        self.buffer.clear()
        self.view.clear()
        self.stream = StreamState("following")
        self._status()
        self._start()

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
            entry = entry_from_doc(self._seq, r.doc, r.time_ns, r.level, r.stream)
            fresh.append(entry)
            self.buffer.add(entry, r.nbytes)
        if not self.paused:
            keeps = self.query_.keeps
            self.view.append(e for e in fresh if keeps(e))
        self._status()

    def _refilter(self) -> None:
        keeps = self.query_.keeps
        source = self.frozen if self.frozen is not None else self.buffer
        self.view.set_entries(e for e in source if keeps(e))
        self._status()

    def _status(self) -> None:
        q = self.query_
        parts = [
            f"level ≥ {q.min_level}" if q.min_level else "all levels",
            f"regex /{q.pattern}/" if q.pattern else "",
            f"search “{self.view.search}”" if self.view.search else "",
            "[b]PAUSED[/b]" if self.paused else "",
            stream_text(self.stream),
            f"{len(self.view.entries)}/{len(self.buffer)} lines",
            f"{self.feed.dropped} dropped" if self.feed.dropped else "",
            q.error,
        ]
        for status in self.query("#log-status").results(Static):
            status.update(" · ".join(p for p in parts if p))

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
        # Paused, the view and its filters work on a snapshot; the stream keeps filling the history.
        self.frozen = list(self.buffer) if self.paused else None
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

        self.app.push_screen(PromptScreen("Save the shown records to (.jsonl: one JSON object each, else text):",
                                          default), save)

    def save_to(self, path: Path) -> None:
        """Write the lines shown (filters applied) to ``path``."""
        try:
            fmt = "jsonl" if path.suffix in (".json", ".jsonl", ".ndjson") else "text"
            path.write_text(render_records(self.view.entries, fmt, self.view.timestamps), encoding="utf-8")
        except OSError as err:
            self.notify(f"cannot save to {path}: {err.strerror or err}", severity="error")
            return
        self.notify(f"saved {len(self.view.entries)} lines to {path}")

    def on_log_view_selected(self, message: LogView.Selected) -> None:
        self.app.push_screen(TextScreen(f"record at {message.entry.stamp()}", pretty_record(message.entry.doc)))


