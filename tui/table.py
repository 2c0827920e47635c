"""``ContainersTable``: Textual's ``DataTable`` that can reorder its rows and rename a column in place.

A sort or a filter used to clear the table and add every row again: each row's cells were measured
anew and every column re-added (a few hundred milliseconds for 100 rows on a busy host). Reordering
keeps the rows (``DataTable.sort`` does the same: it only rewrites the row locations), and a new
sort arrow is a label change, so a sort costs the cells that changed and one repaint.

Drawing: ``DataTable`` renders every cell on screen again after any change to the table (its cell
cache is keyed by a counter of changes), so a stats tick or a sort re-rendered ~500 cells through
Rich. Here a one-line cell's rendering is kept by its content, column, width and style: a tick
renders only the cells whose values changed, and a sort reuses the cells that moved (their mouse
metadata, which names the row, is set to the new row).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.cache import LRUCache
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets._data_table import CellKey, ColumnKey, RowKey, default_cell_formatter

CELL_CACHE = 4096
"""Rendered cells kept by content (a screen of 50 rows x 11 columns, several times over)."""
SegmentLines = list[list[Segment]]


def signature(value: object) -> Hashable | None:
    """What a cell's rendering depends on, hashable; None for a renderable that is not plain or ``Text``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Text):
        return ("text", value.plain, value.style, tuple(value.spans), value.justify, value.overflow,
                value.no_wrap, value.end)
    return None


class ContainersTable(DataTable[RenderableType]):
    """A ``DataTable`` with ``reorder``, ``relabel`` and cells rendered once per content."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._by_content: LRUCache[Hashable, tuple[int, SegmentLines]] = LRUCache(CELL_CACHE)
        self._widths: dict[ColumnKey, dict[RowKey, int]] = {}  # each cell's measured width, by column

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        """Textual's, measuring each updated cell once and no other: the widest is taken from kept widths.

        Textual measured the whole column again for every updated cell narrower than the
        column: after a stats tick, most of the event loop's time at 100 rows.
        """
        console = self.app.console
        changed: dict[ColumnKey, list[RowKey]] = {}
        for row_key, column_key in updated_cells:
            if column_key in self.columns and row_key in self.rows:
                changed.setdefault(column_key, []).append(row_key)
        for column_key, row_keys in changed.items():
            column = self.columns[column_key]
            widths = self._widths.setdefault(column_key, {})
            for row_key in row_keys:
                widths[row_key] = self._cell_width(console, row_key, column_key)
            widest = 0
            for row_key in self.rows:
                width = widths.get(row_key)
                if width is None:
                    width = widths[row_key] = self._cell_width(console, row_key, column_key)
                widest = max(widest, width)
            column.content_width = max(widest, measure(console, column.label, 1))
        self._require_update_dimensions = True

    def clear(self, columns: bool = False) -> ContainersTable:
        self._widths.clear()
        super().clear(columns)
        return self

    def remove_row(self, row_key: RowKey | str) -> None:
        key = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        for widths in self._widths.values():  # a row added again under this key is measured again
            widths.pop(key, None)
        super().remove_row(row_key)

    def _cell_width(self, console: Any, row_key: RowKey, column_key: ColumnKey) -> int:
        row = self.rows[row_key]
        return measure(console, default_cell_formatter(self._data[row_key][column_key], wrap=row.height != 1,
                                                       height=row.height), 1)

    def notify_style_update(self) -> None:
        self._by_content.clear()
        super().notify_style_update()

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> SegmentLines:
        """Textual's rendering of the cell, reused while its content, place in the row and look are the same."""
        if row_index < max(0, self.fixed_rows) or column_index < max(0, self.fixed_columns):
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        row = self.rows.get(row_key) if row_key is not None else None
        sig = None
        if row is not None and row.height == 1 and column_key is not None:
            sig = signature(self._data[row.key].get(column_key))
        if sig is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (sig, column_index, base_style, width, cursor, hover, self._show_hover_cursor,
               self._pseudo_class_state, self.show_cursor)
        found = self._by_content.get(key)
        if found is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._by_content[key] = (row_index, lines)
            return lines
        rendered_at, lines = found
        if rendered_at == row_index:
            return lines
        meta = Style.from_meta({"row": row_index, "column": column_index})
        return [[Segment(s.text, s.style + meta if s.style else meta, s.control) for s in line] for line in lines]

    def row_keys(self) -> list[str]:
        """The row keys, top to bottom."""
        at = self._row_locations.get_key
        return [str(key.value) for key in (at(i) for i in range(len(self._row_locations))) if key is not None]

    def reorder(self, keys: Sequence[str]) -> None:
        """Show the rows in the order of ``keys``, which must hold every row key once (as ``sort`` does it)."""
        if (len(keys) != len(self._row_locations) or len(set(keys)) != len(keys)
                or any(RowKey(k) not in self._row_locations for k in keys)):
            raise ValueError("reorder needs every row key of the table exactly once")
        self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(keys)})
        self._update_count += 1
        self.refresh()

    def relabel(self, labels: Mapping[str, str], widest: Callable[[], Mapping[str, int]]) -> bool:
        """Rename columns (``labels`` by column key); False if no label changed.

        When one does, every column that sizes itself is as wide as its label or its widest cell
        (``widest()``, measured by the caller over the rows shown), as a rebuilt table would be.
        """
        texts = {key: Text(label) for key, label in labels.items()}
        if all(self.columns[ColumnKey(key)].label == text for key, text in texts.items()):
            return False
        resized = False
        cells = widest()
        for key, text in texts.items():
            column = self.columns[ColumnKey(key)]
            column.label = text
            width = max(text.cell_len, cells.get(key, 0))
            if column.auto_width and column.content_width != width:
                column.content_width = width
                resized = True
        if resized:
            self._require_update_dimensions = True
            self.check_idle()
        self._update_count += 1
        self.refresh()
        return True
