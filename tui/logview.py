"""``LogView``: a scrolling, bounded view of log entries with a cursor, search highlight and wrap.

It draws only the lines on screen (Textual's line API) from a bounded cache of rendered strips,
so its cost does not grow with the number of entries, and it keeps at most ``max_entries``:
appending beyond that drops the oldest. Appends are bulk: a batch costs one deque extend, one
size update and one refresh (Textual paints at most once a frame), never widget work per line.

Following (the default) the cursor is on the newest entry and the view shows the end. Moving
the cursor up (or scrolling up) leaves follow mode, like ``less +F``: the view then stays still,
even while old entries are dropped at the top, so the cursor never scrolls out by itself;
``end`` or ``F`` follows again. ``FollowChanged`` tells the owner, which shows the mode.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.logmodel import STAMP_WIDTH, LogEntry, search_spans

LEVEL_STYLES = {
    "trace": "dim", "debug": "dim", "info": "", "notice": "cyan",
    "warn": "yellow", "error": "red", "critical": "bold red", "fatal": "bold white on red",
}
SEARCH_STYLE = Style.parse("black on yellow")
CURSOR_STYLE = Style.parse("reverse")
TAG_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta",
              "bright_green", "bright_blue")
"""Colours of the replica tags of a service's merged logs, by ``LogEntry.tag_colour``."""
STRIP_CACHE = 1024
"""Rendered lines kept (about four screens of wrapped lines): drawing costs the lines on screen only."""


class LogView(ScrollView, can_focus=True):
    """Log entries, newest at the bottom.

    | Key | Does |
    | --- | --- |
    | up/down, pageup/pagedown | move the cursor (up leaves follow mode) |
    | home | first line |
    | end, F | follow again: the cursor on the newest line, the view at the end |
    | enter | post ``LogView.Selected`` for the cursor's entry |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end,F", "last", "Follow", show=True),
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

    class FollowChanged(Message):
        """The view entered or left follow mode (``following``)."""

        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, max_entries: int = 5000, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.max_entries = max_entries
        self.entries: deque[LogEntry] = deque()
        self._first = 0  # the ordinal of entries[0]: ordinals number the entries shown since the last reset
        self._mark: int | None = None  # the cursor's ordinal when not following
        self._follow = True
        self._rows: deque[tuple[int, int]] = deque()  # (ordinal, line of the entry), when wrapping only
        self._wrapped: OrderedDict[int, list[Text]] = OrderedDict()
        self._strips: OrderedDict[tuple[int, int, bool], Strip] = OrderedDict()
        self._widest = 0
        self.timestamps = True
        self.wrap = False
        self.search = ""
        self._wrap_width = 0
        self._end_pending = False
        self._base = Style()

    # -- content -----------------------------------------------------------------------
    def set_entries(self, entries: Iterable[LogEntry]) -> None:
        """Replace everything shown (after a filter change).

        Not following, the cursor stays on its entry, or the nearest later one if the filter hid it.
        """
        keep = self.cursor_entry() if not self._follow else None
        items = list(entries)[-self.max_entries:] if self.max_entries else []
        self.entries = deque(items)
        self._first = 0
        if keep is not None:
            at = bisect_left(items, keep.seq, key=lambda e: e.seq)
            self._mark = min(at, len(items) - 1) if items else None
        self._rebuild()
        if not self._follow:
            self._show_cursor()

    def append(self, entries: Iterable[LogEntry]) -> None:
        """Add entries at the bottom in bulk, dropping the oldest beyond ``max_entries``.

        Following, the view moves to the end; otherwise it stays on the lines it shows.
        """
        added = list(entries)
        if not added:
            return
        if len(added) >= self.max_entries and self._follow:
            self.set_entries(added)
            return
        last = self._first + len(self.entries)
        self.entries.extend(added)
        if self.wrap:
            for offset, entry in enumerate(added):
                self._rows.extend((last + offset, i) for i in range(len(self._wrapped_lines(last + offset, entry))))
        else:
            self._widest = max(self._widest, self._widest_of(added))
        self._drop_overflow()
        self._resize()
        if self._follow:
            self._scroll_end()
        self.refresh()

    def _drop_overflow(self) -> None:
        overflow = len(self.entries) - self.max_entries
        if overflow <= 0:
            return
        for _ in range(overflow):
            self.entries.popleft()
        self._first += overflow
        dropped_rows = overflow
        if self.wrap:
            dropped_rows = 0
            while self._rows and self._rows[0][0] < self._first:
                self._rows.popleft()
                dropped_rows += 1
        if self._mark is not None and self._mark < self._first:
            self._mark = self._first
        if not self._follow:  # the lines shown move up by what was dropped: keep them still
            self.scroll_to(y=max(0, self.scroll_offset.y - dropped_rows), animate=False, immediate=True)

    def clear(self) -> None:
        self.set_entries([])

    def on_unmount(self) -> None:
        self.release()

    def release(self) -> None:
        """Drop the entries and cached lines without redrawing (the view is going away)."""
        self.entries = deque()
        self._strips.clear()
        self._wrapped.clear()
        self._rows.clear()

    @property
    def following(self) -> bool:
        """True when new entries scroll into view and the cursor is on the newest."""
        return self._follow

    @property
    def cursor(self) -> int | None:
        """The ``seq`` of the cursor's entry (the newest while following), None when empty."""
        entry = self.cursor_entry()
        return entry.seq if entry is not None else None

    def visible_entries(self) -> list[LogEntry]:
        return list(self.entries)

    def cursor_index(self) -> int | None:
        """The cursor's index in ``entries`` (the last while following), None when empty."""
        if not self.entries:
            return None
        if self._follow or self._mark is None:
            return len(self.entries) - 1
        return max(0, min(len(self.entries) - 1, self._mark - self._first))

    def cursor_entry(self) -> LogEntry | None:
        index = self.cursor_index()
        return None if index is None else self.entries[index]

    # -- options -----------------------------------------------------------------------
    def set_options(self, *, timestamps: bool | None = None, wrap: bool | None = None,
                    search: str | None = None) -> None:
        if timestamps is not None:
            self.timestamps = timestamps
        if wrap is not None:
            self.wrap = wrap
        if search is not None:
            self.search = search
        if timestamps is None and wrap is None:
            self._strips.clear()  # a search changes how lines look, not how many rows they take
            self.refresh()
            return
        self._rebuild()

    def _set_follow(self, follow: bool) -> None:
        if follow != self._follow:
            self._follow = follow
            self.post_message(self.FollowChanged(follow))

    def move_to(self, index: int) -> None:
        """Put the cursor on the entry at ``index`` of ``entries`` (leaving follow mode) and into view."""
        if not self.entries:
            return
        index = max(0, min(len(self.entries) - 1, index))
        was = self.cursor_index()
        top = self.scroll_offset.y
        self._mark = self._first + index
        self._set_follow(False)
        self._show_cursor()
        if self.wrap or was is None or self.scroll_offset.y != top:
            self.refresh()
            return
        width = self.scrollable_content_region.width  # the view did not move: repaint the two lines only
        self.refresh(*(Region(0, row - top, width, 1) for row in {was, index}))

    def _row_of(self, ordinal: int) -> int:
        if not self.wrap:
            return ordinal - self._first
        for row, (at, _) in enumerate(self._rows):
            if at == ordinal:
                return row
        return 0

    def _show_cursor(self) -> None:
        """Scroll the least needed to bring the cursor's line into view (centred after a jump)."""
        if self._mark is None:
            return
        row = self._row_of(self._mark)
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height or 1
        if row < top or row >= top + height:
            near = top - height <= row < top + 2 * height
            y = (row if row < top else row - height + 1) if near else row - height // 2
            self.scroll_to(y=max(0, y), animate=False, immediate=True)

    # -- actions -----------------------------------------------------------------------
    def action_cursor(self, step: int) -> None:
        current = self.cursor_index()
        if current is None:
            return
        if not self._follow:
            top = self.scroll_offset.y
            height = self.scrollable_content_region.height or 1
            row = self._row_of(self._first + current)
            if not top <= row < top + height:  # scrolled away (mouse): start from the lines shown
                first_shown = self._rows[min(top, len(self._rows) - 1)][0] - self._first if self.wrap else top
                current = first_shown if step > 0 else first_shown + height - 1
        self.move_to(current + step)

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self._mark = None
        self._set_follow(True)
        self._scroll_end()
        self.refresh()

    def on_mouse_scroll_up(self) -> None:
        if self._follow and self.entries:
            self._mark = self._first + len(self.entries) - 1
            self._set_follow(False)

    def action_select(self) -> None:
        entry = self.cursor_entry()
        if entry is not None:
            self.post_message(self.Selected(entry))

    # -- drawing -----------------------------------------------------------------------
    def _text(self, entry: LogEntry, cursor: bool) -> Text:
        line = entry.line(self.timestamps)
        text = Text(line, style=LEVEL_STYLES.get(entry.level, ""), no_wrap=not self.wrap, end="")
        if entry.tag:
            start = entry.tag_start(self.timestamps)
            text.stylize(TAG_STYLES[entry.tag_colour % len(TAG_STYLES)], start, start + len(entry.tag))
        for start, end in search_spans(line, self.search):
            text.stylize(SEARCH_STYLE, start, end)
        if cursor:
            text.stylize(CURSOR_STYLE)
        return text

    def _wrapped_lines(self, ordinal: int, entry: LogEntry) -> list[Text]:
        found = self._wrapped.get(ordinal)
        if found is not None:
            return found
        lines = list(self._text(entry, False).wrap(self.app.console, self._wrap_width, overflow="fold"))
        self._wrapped[ordinal] = lines
        if len(self._wrapped) > STRIP_CACHE:
            self._wrapped.popitem(last=False)
        return lines

    def _strip(self, ordinal: int, sub: int, cursor: bool) -> Strip:
        key = (ordinal, sub, cursor)
        found = self._strips.get(key)
        if found is not None:
            return found
        entry = self.entries[ordinal - self._first]
        if self.wrap:
            lines = self._wrapped_lines(ordinal, entry)
            text = lines[sub].copy() if sub < len(lines) else Text("")
            if cursor:
                text.stylize(CURSOR_STYLE)
        else:
            text = self._text(entry, cursor)
        base = self._base
        strip = Strip([Segment(s.text, base + s.style if s.style else base) for s in text.render(self.app.console)])
        self._strips[key] = strip
        if len(self._strips) > STRIP_CACHE:
            self._strips.popitem(last=False)
        return strip

    def _rebuild(self) -> None:
        self._strips.clear()
        self._wrapped.clear()
        self._rows.clear()
        self._wrap_width = max(10, self.scrollable_content_region.width or self.size.width or 80)
        if self.wrap:
            for offset, entry in enumerate(self.entries):
                ordinal = self._first + offset
                self._rows.extend((ordinal, i) for i in range(len(self._wrapped_lines(ordinal, entry))))
            self._widest = 0
        else:
            self._widest = self._widest_of(self.entries)
        self._resize()
        if self._follow:
            self._scroll_end()
        self.refresh()

    def _widest_of(self, entries: Iterable[LogEntry]) -> int:
        """The widest line of ``entries`` (an attribute read per entry: 100,000 of them after a filter change)."""
        widest = max((e.cols or e.untimed_width() for e in entries), default=-1)
        return 0 if widest < 0 else widest + (STAMP_WIDTH + 1 if self.timestamps else 0)

    def _row_count(self) -> int:
        return len(self._rows) if self.wrap else len(self.entries)

    def _resize(self) -> None:
        """Set the scrollable size; without a layout of the screen when no scrollbar appears or goes.

        Assigning ``virtual_size`` lays out the whole screen (and repaints every widget of it), ten
        times a second under a busy log; setting it quietly repaints this widget and its scrollbars only.
        """
        size = Size(self._wrap_width if self.wrap else self._widest, self._row_count())
        old = self.virtual_size
        if size == old:
            return
        region = self.scrollable_content_region
        same_bars = ((old.height > region.height) == (size.height > region.height)
                     and (old.width > region.width) == (size.width > region.width))
        if same_bars and self.is_mounted and region.height > 0:
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)
        else:
            self.virtual_size = size

    def _scroll_end(self) -> None:
        """To the end now, and once more after the next refresh (a layout may change the height)."""
        self.scroll_to(y=max(0, self._row_count() - (self.scrollable_content_region.height or 0)),
                       animate=False, immediate=True)
        if not self._end_pending:
            self._end_pending = True
            self.call_after_refresh(self._end_after_refresh)

    def _end_after_refresh(self) -> None:
        self._end_pending = False
        if self._follow:
            self.scroll_end(animate=False, immediate=True)

    def on_resize(self) -> None:
        if self.wrap:
            self._rebuild()
        elif self._follow:
            self._scroll_end()

    def render_lines(self, crop: Region) -> list[Strip]:
        base = self.rich_style  # once per paint, not once per line (it walks the ancestors' styles)
        if base != self._base:
            self._base = base
            self._strips.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self._base
        if row >= self._row_count():
            return Strip.blank(width, base)
        ordinal, sub = self._rows[row] if self.wrap else (self._first + row, 0)
        cursor = self._mark == ordinal if not self._follow else ordinal == self._first + len(self.entries) - 1
        return self._strip(ordinal, sub, cursor).crop_extend(scroll_x, scroll_x + width, base)
