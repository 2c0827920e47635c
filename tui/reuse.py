"""What the containers table made at its last refresh, kept for the next one. Pure, no Textual.

A sort or a filter between two stats ticks changes only the order or the choice of rows: the rows made from
the same snapshot (and the same containers, in the same second) are taken again, and each row's cells while
its row and its marks are the same, so the table reorders what it has instead of making 100 rows anew.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from observe.model import ContainerInfo
from observe.stats.snapshot import StatsSnapshot
from tui.actions import Outcome
from tui.cells import Cells, row_cells
from tui.rows import Row, make_rows


class MadeRows:
    """The rows of the last snapshot read, and the cells of each row shown."""

    def __init__(self) -> None:
        self._rows: tuple[StatsSnapshot, tuple[int, ...], list[Row]] | None = None
        self._cells: dict[str, tuple[Row, tuple[object, ...], Cells]] = {}  # id -> its row, state, cells

    def rows(self, containers: Sequence[ContainerInfo], snapshot: StatsSnapshot, now: datetime) -> list[Row]:
        """``make_rows(containers, snapshot, now)``, or the very list made for the same ones at the same second."""
        ids = (int(now.timestamp()), *map(id, containers))  # uptimes are shown to the second
        made = self._rows
        if made is not None and made[0] is snapshot and made[1] == ids:
            return made[2]
        rows = make_rows(containers, snapshot, now)
        self._rows = (snapshot, ids, rows)
        return rows

    def cells(self, row: Row, marked: bool, pending: str | None, outcome: Outcome | None) -> Cells:
        """``row_cells(row, marked, pending, outcome)``, or the cells made for this very row in the same state."""
        state = (marked, pending, outcome)
        made = self._cells.get(row.id)
        if made is not None and made[0] is row and made[1] == state:
            return made[2]
        cells = row_cells(row, marked, pending, outcome)
        self._cells[row.id] = (row, state, cells)
        return cells

    def keep(self, shown: Collection[str]) -> None:
        """Forget the cells of rows no longer shown."""
        self._cells = {k: v for k, v in self._cells.items() if k in shown}
