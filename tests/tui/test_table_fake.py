"""The containers table kept in place: a sort reorders rows, a filter removes and adds them, clicks still hit.

The table is no longer rebuilt on a sort or a filter (``tui.table.ContainersTable``), and a cell's
rendering is reused by content, so these check what a rebuild used to guarantee: the rows shown are
those of ``shown_ids()`` in that order with their own cells, the cursor stays on its container, a
click lands on the row under the mouse after the rows moved, and a covered list catches up.
"""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets._data_table import ColumnKey

from observe.engine.inspect import from_inspect
from tests.tui.fakecore import ENGINE_INFO, FakeCore, fixed_clock, inspect_doc
from tests.tui.helpers import until
from tui.app import ObserveApp, make_app
from tui.rows import column
from tui.screens.containers import ContainersScreen
from tui.screens.detail import DetailScreen
from tui.table import ContainersTable


def app_of(core: FakeCore) -> ObserveApp:
    return make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]


def names(app: ObserveApp) -> list[str]:
    """The NAME cells as the table holds them, top to bottom."""
    table = app.main.table
    out = []
    for key in table.row_keys():
        cell = table.get_cell(key, "name")
        out.append(cell.plain if isinstance(cell, Text) else str(cell))
    return out


def expected_names(app: ObserveApp) -> list[str]:
    return [r.name for r in app.main.visible_rows()]


async def test_a_sort_reorders_the_same_rows_and_keeps_the_cursor_on_its_container() -> None:
    app = app_of(FakeCore())
    async with app.run_test(size=(150, 30)) as pilot:
        main = app.main
        await until(pilot, lambda: len(main.shown_ids()) == 5, "rows")
        await pilot.press("down", "down")
        chosen = main.selected_id()
        rows_before = {k: main.table.rows[k] for k in main.table.rows}
        for _ in range(6):
            await pilot.press("o")
            assert main.table.row_keys() == main.shown_ids(), f"table order is the sort's ({main.sort_key})"
            assert names(app) == expected_names(app)
            assert main.selected_id() == chosen, f"cursor stayed on its container (sort {main.sort_key})"
        assert {k: main.table.rows[k] for k in main.table.rows} == rows_before, "rows kept, not re-added"
        header = [str(c.label) for c in main.table.ordered_columns]
        arrows = [h for h in header if h.endswith((" ▲", " ▼"))]
        assert len(arrows) == 1 and arrows[0].startswith(column(main.sort_key).title), header


async def test_a_filter_removes_and_adds_rows_in_order_with_their_own_cells() -> None:
    app = app_of(FakeCore())
    async with app.run_test(size=(150, 30)) as pilot:
        main = app.main
        await until(pilot, lambda: len(main.shown_ids()) == 5, "rows")
        everything = main.shown_ids()
        await pilot.press("slash", *"api")
        await until(pilot, lambda: len(main.shown_ids()) == 2, "the api rows only")
        assert main.table.row_keys() == main.shown_ids() and names(app) == expected_names(app)
        await pilot.press("backspace", "backspace", "backspace")
        await until(pilot, lambda: len(main.shown_ids()) == 5, "all rows again")
        assert main.shown_ids() == everything == main.table.row_keys()
        assert names(app) == expected_names(app)
        main.sort_by("name", descending=True)
        await pilot.press("slash", *"db")
        await until(pilot, lambda: len(main.shown_ids()) == 1, "the db row")
        await pilot.press("backspace", "backspace")
        await until(pilot, lambda: len(main.shown_ids()) == 5, "all rows, reverse order")
        assert main.shown_ids() == list(reversed(everything)) == main.table.row_keys()


async def test_a_click_after_a_sort_selects_the_row_under_the_mouse() -> None:
    app = app_of(FakeCore())
    async with app.run_test(size=(150, 30)) as pilot:
        main = app.main
        await until(pilot, lambda: len(main.shown_ids()) == 5, "rows")
        await pilot.pause(0.1)  # painted once: every cell rendered (and kept) at its first row
        main.sort_by("name", descending=True)
        await pilot.pause(0.1)
        for row in (3, 1, 4):
            await pilot.click("#containers", offset=(3, 1 + row))  # the header takes the first line
            assert main.selected_id() == main.shown_ids()[row], f"click on row {row}"
            assert not isinstance(app.screen, DetailScreen)


async def test_a_covered_list_is_not_refreshed_and_catches_up_when_shown() -> None:
    core = FakeCore()
    app = app_of(core)
    async with app.run_test(size=(150, 30)) as pilot:
        main = app.main
        await until(pilot, lambda: len(main.shown_ids()) == 5, "rows")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail screen")
        assert main.covered()
        core.inventory.infos.append(from_inspect(inspect_doc(9, "shop-new-1", "new"), ENGINE_INFO))
        main.refresh_table()
        assert len(main.shown_ids()) == 5, "a covered list does no work"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ContainersScreen), "back to the list")
        await until(pilot, lambda: len(main.shown_ids()) == 6, "the list caught up")
        assert names(app) == expected_names(app)


async def test_reorder_needs_every_row_once() -> None:
    app = app_of(FakeCore())
    async with app.run_test(size=(150, 30)) as pilot:
        await until(pilot, lambda: len(app.main.shown_ids()) == 5, "rows")
        keys = app.main.table.row_keys()
        with pytest.raises(ValueError):
            app.main.table.reorder(keys[:-1])
        with pytest.raises(ValueError):
            app.main.table.reorder([*keys[:-1], keys[0]])


async def test_a_cell_that_grows_in_place_widens_its_column() -> None:
    app = app_of(FakeCore())
    async with app.run_test(size=(150, 30)) as pilot:
        main = app.main
        await until(pilot, lambda: len(main.shown_ids()) == 5, "rows")
        await pilot.press("g", "down", "c")  # the api header, kept in place, becomes "▶ shop/api (2 containers)"
        await until(pilot, lambda: main.selected_group() == "shop/api" and "group:shop/api" in main.shown_keys(),
                    "the api group collapsed")
        cell = main.table.get_cell("group:shop/api", "name")
        assert isinstance(cell, Text) and "(2 containers)" in cell.plain
        await pilot.pause(0.1)
        name = next(c for c in main.table.ordered_columns if str(c.key.value) == "name")
        assert name.content_width >= cell.cell_len, "the collapsed header is shown whole"


async def test_updated_cells_are_measured_once_and_the_column_fits_the_widest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import textual.widgets._data_table

    import tui.table

    app = app_of(FakeCore())
    async with app.run_test(size=(150, 30)) as pilot:
        table = ContainersTable()
        await app.main.mount(table)
        table.add_column("CPU", key="cpu")
        keys = [f"r{i}" for i in range(40)]
        for i, key in enumerate(keys):
            table.add_row("x" * (1 + i % 7), key=key)  # the widest: 7
        await pilot.pause()
        cpu = table.columns[ColumnKey("cpu")]
        assert cpu.content_width == 7
        calls: list[object] = []
        real = tui.table.measure

        def counted(console: object, renderable: object, default: int) -> int:
            calls.append(renderable)
            return real(console, renderable, default)  # type: ignore[arg-type]

        table.update_cell(keys[0], "cpu", "v", update_width=True)  # the column's cells measured once, here
        await pilot.pause()
        monkeypatch.setattr(tui.table, "measure", counted)
        monkeypatch.setattr(textual.widgets._data_table, "measure", counted)  # Textual's own measuring counts too
        for key in keys[:10]:  # wider than before, still narrower than the column: nothing to widen
            table.update_cell(key, "cpu", "y" * 6, update_width=True)
        await pilot.pause()
        assert cpu.content_width == 7
        assert len(calls) <= 10 + 1, f"{len(calls)} cells measured for 10 updated (the column has 40)"
        table.update_cell(keys[3], "cpu", "z" * 12, update_width=True)
        await pilot.pause()
        assert cpu.content_width == 12, "a cell wider than its column widens it"
        table.remove_row(keys[3])
        table.update_cell(keys[4], "cpu", "w" * 9, update_width=True)
        await pilot.pause()
        assert cpu.content_width == 9, "the widest of the rows that remain"
        table.remove_row(keys[5])
        table.add_row("u" * 15, key=keys[5])  # the same key again, wider than any width kept for it
        await pilot.pause()
        table.update_cell(keys[6], "cpu", "t" * 2, update_width=True)
        await pilot.pause()
        assert cpu.content_width == 15, "a row added again is measured again"
        table.clear()
        for key in keys[:3]:
            table.add_row("s" * 20, key=key)
        await pilot.pause()
        table.update_cell(keys[0], "cpu", "r", update_width=True)
        await pilot.pause()
        assert cpu.content_width == 20, "rows added after a clear are measured again"
