"""The Logs tab: the container's records, live, with level and regex filters, search, pause, save.

The core's follower calls back from its own thread into a bounded ``LogFeed``; the pane
drains it at most ``DRAIN_INTERVAL`` apart, so the screen updates four times a second at most
(the first records of a stream are taken at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
DRAIN_INTERVAL = 0.25
"""At most this often (seconds) the logs pane takes new records: 4 screen updates a second.

Nobody reads 2,000 lines a second: at 4 Hz a busy stream still scrolls smoothly, and each repaint of
the view (the whole of it moves when following) is paid 4 times a second instead of 10, which leaves
the event loop free for keys."""


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


@dataclass
class Stream:
    """One followed container of a logs pane: how to stop it, where it stands, how its lines are tagged."""

    container_id: str
    tag: str = ""
    colour: int = 0
    state: StreamState = field(default_factory=lambda: StreamState("following"))
    stop: Callable[[], None] | None = None
    closed: bool = False


class LogsPane(Vertical):
    """The container's records, live, with level and regex filters, search, pause, save.

    The pane follows one stream per source (``sources()``: the container itself here; every
    replica of a service in ``ServiceLogsPane``), all through the core's one follow path.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "level", "Level"),
        Binding("f", "regex", "Regex"),
        Binding("slash", "search", "Search"),
        Binding("n", "find(True)", "Next", show=False),
        Binding("N", "find(False)", "Previous", show=False),
        Binding("space", "pause", "Pause"),
        Binding("t", "timestamps", "Times", show=False),
        Binding("w", "wrap", "Wrap", show=False),
        Binding("ctrl+s", "save", "Save", show=False),
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
        self._last_drain = 0.0
        self._drain_timer = False
        self._stale = False
        self.feed = LogFeed(self, maxlen=PENDING_MAX)
        self.streams: dict[str, Stream] = {}
        self._lock = threading.Lock()
        self._closed = False

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status")
        yield Input(placeholder="search (enter: find, n/N: next/previous, escape: close)", id="log-search")
        yield Input(placeholder="regex filter on the line (empty: none)", id="log-regex")
        yield LogView(max_entries=LOG_HISTORY, id="log-view")

    def on_mount(self) -> None:
        self.sync_sources()
        self._status()

    @property
    def stream(self) -> StreamState:
        """The state of the pane's stream (of its first one, when it follows several)."""
        first = next(iter(self.streams.values()), None)
        return first.state if first is not None else StreamState("waiting", "no container to follow")

    def sources(self) -> list[tuple[str, str]]:
        """The containers to follow, with the tag their lines get: here the container alone, untagged."""
        return [(self.container_id, "")]

    def sync_sources(self) -> None:
        """Follow every source not followed yet, stop following those that are gone."""
        wanted = dict(self.sources())
        for cid in [cid for cid in self.streams if cid not in wanted]:
            self._close(self.streams.pop(cid))
        for cid, tag in wanted.items():
            if cid not in self.streams:
                stream = self.streams[cid] = Stream(cid, tag, self.replica_colour(cid, len(self.streams)))
                self._open(stream, tail=500)

    def replica_colour(self, container_id: str, taken: int) -> int:
        """The colour index of a source's tag (``taken``: how many sources came before it)."""
        return taken

    def _open(self, stream: Stream, tail: int) -> None:
        self.run_worker(lambda: self._follow(stream, tail), thread=True, name="follow-logs", group="logs")

    def _follow(self, stream: Stream, tail: int) -> None:
        """Open the stream (a worker: it blocks on the engine); a pane or stream closed meanwhile stops it at once."""
        cid = stream.container_id

        def records(batch: list[Record]) -> None:
            self.feed.on_records([(stream, r) for r in batch])

        def state(new: StreamState) -> None:  # a message, which an unmounted pane simply never gets
            self.post_message(LogStreamChanged(new, cid))

        try:
            stop = self.core.follow_logs(cid, records, tail=tail, on_state=state)
        except ObserveError as err:
            state(StreamState("error", str(err)))
            return
        with self._lock:
            closed = self._closed or stream.closed
            if not closed:
                stream.stop = stop
        if closed:
            stop()

    def _close(self, stream: Stream) -> None:
        with self._lock:
            stream.closed = True
            stop, stream.stop = stream.stop, None
        if stop is not None:
            stop()

    def on_log_stream_changed(self, message: LogStreamChanged) -> None:
        message.stop()
        stream = self.streams.get(message.container_id or self.container_id)
        if stream is not None:
            stream.state = message.state
        self._status()

    def on_unmount(self) -> None:
        with self._lock:
            self._closed = True
        self.feed.close()
        for stream in self.streams.values():
            self._close(stream)
        # The history goes now, by reference counts: a closed screen's widgets are a reference
        # cycle, left to the collector, which would otherwise hold it (up to LOG_BYTES) and then
        # spend a pause freeing it during whatever the operator does next.
        self.feed.drain()
        self.buffer.clear()
        self.frozen = None  # the view lets its entries go as it unmounts (``LogView.on_unmount``)

    def action_retry(self) -> None:
        """Reopen the streams that ended or failed; a pane of one stream starts again from its last 500 lines."""
        done = [s for s in self.streams.values() if s.state.kind in ("error", "ended")]
        if not done:
            self.notify(f"the stream is {self.stream.kind}: nothing to retry")
            return
        alone = len(self.streams) == 1
        if alone:
            self.feed.drain()
            self.buffer.clear()
            self.view.clear()
        for old in done:
            self._close(old)
            stream = self.streams[old.container_id] = Stream(old.container_id, old.tag, old.colour)
            self._open(stream, tail=500 if alone else 0)
        self._status()

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
        """Take the pending records into the buffer and, if shown and not paused, into the view in one append."""
        self._drain_timer = False
        self._last_drain = time.monotonic()
        items = self.take(self.feed.drain())
        if not items:
            return
        fresh: list[LogEntry] = []
        add = self.buffer.add
        seq = self._seq
        for stream, r in items:
            seq += 1
            entry = entry_from_doc(seq, r.doc, r.time_ns, r.level, r.stream, stream.tag, stream.colour)
            fresh.append(entry)
            add(entry, r.nbytes)
        self._seq = seq
        if not self.shown():
            self._stale = True  # a hidden tab keeps the history only; it catches up when shown
        elif not self.paused:
            keeps = self.query_.keeps
            self.view.append(e for e in fresh if keeps(e))
        self._status()

    def take(self, items: list[tuple[Stream, Record]]) -> list[tuple[Stream, Record]]:
        """The drained records to show now, in order (here: all of them, as they came)."""
        return items

    def shown(self) -> bool:
        """Whether the pane is displayed (on a detail screen: its tab is the active one)."""
        parent = self.parent
        return bool(self.display) and (parent is None or bool(getattr(parent, "display", True)))

    def on_show(self) -> None:
        if self._stale and not self.paused:
            self._stale = False
            self._refilter()

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        message.stop()
        self._status()

    def _refilter(self) -> None:
        source = self.frozen if self.frozen is not None else self.buffer
        self.view.set_entries(self.query_.select(source))
        self._status()

    def stream_status(self) -> str:
        """What the streams do, as the status line says it (markup)."""
        return stream_text(self.stream)

    def _status(self) -> None:
        q = self.query_
        views = self.query(LogView)
        view = views.first() if views else None
        following = view is None or view.following
        parts = [
            f"level ≥ {q.min_level}" if q.min_level else "all levels",
            f"regex /{q.pattern}/" if q.pattern else "",
            f"search “{view.search}”" if view is not None and view.search else "",
            "[b]PAUSED[/b]" if self.paused else "",
            self.stream_status(),
            "" if following else "[b reverse] SCROLLED [/] end/F: follow",
            f"{len(view.entries) if view is not None else 0}/{len(self.buffer)} lines",
            f"{self.feed.dropped} dropped" if self.feed.dropped else "",
            q.error,
        ]
        for status in self.query("#log-status").results(Static):
            status.update(" · ".join(p for p in parts if p), layout=False)

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


