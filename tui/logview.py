"""``LogView``: a scrolling, bounded view of log entries with a cursor, search highlight and wrap.

It draws only the lines on screen (Textual's line API), so its cost does not grow with the
number of entries, and it keeps at most ``max_entries``: appending beyond that drops the
oldest. While the cursor is on the last line (or there is no cursor) it follows new entries.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.logmodel import LogEntry, search_spans

LEVEL_STYLES = {
    "trace": "dim", "debug": "dim", "info": "", "notice": "cyan",
    "warn": "yellow", "error": "red", "critical": "bold red", "fatal": "bold white on red",
}
SEARCH_STYLE = Style.parse("black on yellow")
CURSOR_STYLE = Style.parse("reverse")


class LogView(ScrollView, can_focus=True):
    """Log entries, newest at the bottom.

    | Key | Does |
    | --- | --- |
    | up/down, pageup/pagedown | move the cursor (and stop following) |
    | home/end | first line / last line (end follows again) |
    | enter | post ``LogView.Selected`` for the cursor's entry |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last (follow)", show=False),
        Binding("enter", "select", "Record", show=True),
    ]

    DEFAULT_CSS = """
    LogView { background: $surface; }
    """

    class Selected(Message):
        """The user asked for the full record of ``entry`` (enter on a line)."""

        def __init__(self, entry: LogEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, max_entries: int = 5000, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.max_entries = max_entries
        self.entries: deque[LogEntry] = deque()
        self._rows: deque[tuple[LogEntry, int]] = deque()
        self._cache: OrderedDict[int, list[Text]] = OrderedDict()
        self._widest = 0
        self.cursor: int | None = None  # an entry's seq
        self.timestamps = True
        self.wrap = False
        self.search = ""
        self._wrap_width = 0
        self._follow = True

    # -- content -----------------------------------------------------------------------
    def set_entries(self, entries: Iterable[LogEntry]) -> None:
        """Replace everything shown (after a filter change); the cursor stays if its entry is still shown."""
        self.entries = deque(entries)
        while len(self.entries) > self.max_entries:
            self.entries.popleft()
        if self.cursor is not None and not any(e.seq == self.cursor for e in self.entries):
            self.cursor = None
        self._rebuild()

    def append(self, entries: Iterable[LogEntry]) -> None:
        """Add entries at the bottom, dropping the oldest beyond ``max_entries``; follow if following."""
        following = self.following
        added = list(entries)
        if not added:
            return
        if len(added) >= self.max_entries:
            self.set_entries(added[-self.max_entries:])
            return
        for e in added:
            self.entries.append(e)
            self._add_rows(e)
        while len(self.entries) > self.max_entries:
            gone = self.entries.popleft()
            self._cache.pop(gone.seq, None)
            while self._rows and self._rows[0][0].seq == gone.seq:
                self._rows.popleft()
            if self.cursor == gone.seq:
                self.cursor = None
        self._resize()
        if following:
            self._to_end()
        self.refresh()

    def _to_end(self) -> None:
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def clear(self) -> None:
        self.set_entries([])

    @property
    def following(self) -> bool:
        """True when new entries scroll into view: no cursor (until the user scrolls up), or it is on the last entry."""
        if self.cursor is None:
            return self._follow
        return bool(self.entries) and self.cursor == self.entries[-1].seq

    def visible_entries(self) -> list[LogEntry]:
        return list(self.entries)

    def cursor_entry(self) -> LogEntry | None:
        if self.cursor is None:
            return self.entries[-1] if self.entries else None
        for e in reversed(self.entries):
            if e.seq == self.cursor:
                return e
        return None

    # -- options -----------------------------------------------------------------------
    def set_options(self, *, timestamps: bool | None = None, wrap: bool | None = None,
                    search: str | None = None) -> None:
        if timestamps is not None:
            self.timestamps = timestamps
        if wrap is not None:
            self.wrap = wrap
        if search is not None:
            self.search = search
        self._rebuild()

    def move_to(self, index: int) -> None:
        """Put the cursor on the entry at ``index`` of ``entries`` and scroll it into view."""
        if not self.entries:
            return
        index = max(0, min(len(self.entries) - 1, index))
        self.cursor = self.entries[index].seq
        self._follow = False
        self._cache.clear()
        for row, (entry, _) in enumerate(self._rows):
            if entry.seq == self.cursor:
                top = self.scroll_offset.y
                height = self.scrollable_content_region.height or 1
                if row < top or row >= top + height:
                    self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
                break
        self.refresh()

    def cursor_index(self) -> int | None:
        if self.cursor is None:
            return None
        for i, e in enumerate(self.entries):
            if e.seq == self.cursor:
                return i
        return None

    # -- actions -----------------------------------------------------------------------
    def action_cursor(self, step: int) -> None:
        current = self.cursor_index()
        if current is None:
            current = len(self.entries) if step < 0 else -1
            top_row = self.scroll_offset.y + (self.scrollable_content_region.height - 1 if step < 0 else 0)
            if 0 <= top_row < len(self._rows):
                entry = self._rows[top_row][0]
                current = next((i for i, e in enumerate(self.entries) if e.seq == entry.seq), current)
                current -= step
        self.move_to(current + step)

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.cursor = None
        self._follow = True
        self._cache.clear()
        self._to_end()
        self.refresh()

    def on_mouse_scroll_up(self) -> None:
        self._follow = False

    def action_select(self) -> None:
        entry = self.cursor_entry()
        if entry is not None:
            self.post_message(self.Selected(entry))

    # -- drawing -----------------------------------------------------------------------
    def _text(self, entry: LogEntry) -> Text:
        line = entry.line(self.timestamps)
        style = LEVEL_STYLES.get(entry.level, "")
        text = Text(line, style=style, no_wrap=not self.wrap, end="")
        for start, end in search_spans(line, self.search):
            text.stylize(SEARCH_STYLE, start, end)
        if entry.seq == self.cursor:
            text.stylize(CURSOR_STYLE)
        return text

    def _lines(self, entry: LogEntry) -> list[Text]:
        found = self._cache.get(entry.seq)
        if found is not None:
            self._cache.move_to_end(entry.seq)
            return found
        text = self._text(entry)
        if self.wrap and self._wrap_width > 0:
            lines = list(text.wrap(self.app.console, self._wrap_width, overflow="fold"))
        else:
            lines = [text]
        self._cache[entry.seq] = lines
        if len(self._cache) > 512:
            self._cache.popitem(last=False)
        return lines

    def _add_rows(self, entry: LogEntry) -> None:
        count = len(self._lines(entry)) if self.wrap else 1
        for i in range(count):
            self._rows.append((entry, i))
        if not self.wrap:
            self._widest = max(self._widest, len(entry.line(self.timestamps)))

    def _rebuild(self) -> None:
        self._cache.clear()
        self._rows.clear()
        self._widest = 0
        self._wrap_width = max(10, self.scrollable_content_region.width or self.size.width or 80)
        for e in self.entries:
            self._add_rows(e)
        self._resize()
        if self.following:
            self._to_end()
        self.refresh()

    def _resize(self) -> None:
        width = self._wrap_width if self.wrap else self._widest
        self.virtual_size = Size(width, len(self._rows))

    def on_resize(self) -> None:
        if self.wrap:
            self._rebuild()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self._rows):
            return Strip.blank(width, base)
        entry, sub = self._rows[index]
        lines = self._lines(entry)
        text = lines[sub] if sub < len(lines) else Text("")
        segments = [Segment(s.text, base + s.style if s.style else base) for s in text.render(self.app.console)]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
