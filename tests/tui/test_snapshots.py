"""How the main screens look, on fixed data and a fixed clock (a fake of our CoreView seam, not of Docker).

Update after a deliberate change with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at
the diff before committing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot

from tests.tui.fakecore import RECORDS, FakeCore, fixed_clock
from tests.tui.helpers import until
from tui.app import ObserveApp, make_app
from tui.logview import LogView
from tui.screens.detail import DetailScreen

SIZE = (150, 34)
Compare = Callable[..., bool]


def app_of(**kwargs: Any) -> ObserveApp:
    return make_app(FakeCore(**kwargs), clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]


def open_tab(tab: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ObserveApp)
        app.main.select("01" * 32)
        app.open_detail("01" * 32, tab)
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail screen")
        if tab == "logs":
            await until(pilot, lambda: app.screen.query(LogView), "the logs pane")
            view = app.screen.query_one(LogView)
            await until(pilot, lambda: len(view.entries) == len(RECORDS), "the records in the logs pane")
        await app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


def test_containers(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), terminal_size=SIZE)


def test_containers_grouped_by_service_sorted_by_cpu(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), press=["g", "o", "o", "o", "o"], terminal_size=SIZE)


def test_containers_at_80x24_problems_first_one_marked(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), press=["w", "space"], terminal_size=(80, 24))


def test_containers_grouped_one_group_collapsed(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), press=["g", "down", "c"], terminal_size=SIZE)


def test_containers_read_only(snap_compare: Compare) -> None:
    assert snap_compare(app_of(read_only=True), terminal_size=SIZE)


def test_engine_gone_banner(snap_compare: Compare) -> None:
    assert snap_compare(app_of(connected=False), terminal_size=SIZE)


def test_confirm_restart(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), press=["down", "r"], terminal_size=SIZE)


def test_help(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), press=["question_mark"], terminal_size=SIZE)


def test_logs(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), run_before=open_tab("logs"), terminal_size=SIZE)


def test_logs_warn_and_above_with_search(snap_compare: Compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_tab("logs")(pilot)
        await pilot.press("l", "l", "l", "slash", *"fail", "enter")
        await pilot.pause()

    assert snap_compare(app_of(), run_before=run_before, terminal_size=SIZE)


def test_logs_cursor_moved_up_then_down(snap_compare: Compare) -> None:
    """The cursor's old line loses its highlight: a cursor move repaints only the lines it changes."""
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_tab("logs")(pilot)
        await pilot.press("up", "up", "up", "down")
        await pilot.pause()

    assert snap_compare(app_of(), run_before=run_before, terminal_size=SIZE)


def test_stats(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), run_before=open_tab("stats"), terminal_size=SIZE)


def test_inspect(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), run_before=open_tab("inspect"), terminal_size=SIZE)


def test_processes(snap_compare: Compare) -> None:
    assert snap_compare(app_of(), run_before=open_tab("processes"), terminal_size=SIZE)


def test_events(snap_compare: Compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ObserveApp)
        app.open_detail("02" * 32, "events")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail screen")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app_of(), run_before=run_before, terminal_size=SIZE)
