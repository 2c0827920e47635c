"""Following a busy container's logs: the cursor tracks the newest line and never scrolls out of view.

Like ``less +F``: moving the cursor up leaves follow mode (the status line says so) and the view
stays on its lines even while the oldest are dropped at the top; ``F`` follows again.
"""

from __future__ import annotations

import pytest

from tests.conftest import Containers
from tests.tui.conftest import core_for
from tests.tui.helpers import until
from tui.app import make_app
from tui.logview import LogView
from tui.panes import LogsPane
from tui.screens.detail import DetailScreen

pytestmark = pytest.mark.engine
BUSY = "i=0; while true; do i=$((i+1)); echo \"busy line $i\"; usleep 500; done"


def cursor_in_view(view: LogView) -> bool:
    index = view.cursor_index()
    top, height = view.scroll_offset.y, view.scrollable_content_region.height
    return index is not None and top <= index < top + height


def status_of(pane: LogsPane) -> str:
    return str(pane.query_one("#log-status").render())


async def test_the_cursor_follows_then_stays_in_view_when_scrolled_up(containers: Containers) -> None:
    core = core_for(containers)
    try:
        busy = containers.run("busy", BUSY)
        app = make_app(core, refresh_interval=0.5)
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [busy.id], "the busy container's row")
            await pilot.press("enter")
            assert isinstance(app.screen, DetailScreen)
            pane = app.screen.query_one(LogsPane)
            view = pane.view
            view.max_entries = 3000  # drops at the top within a second: the case that scrolled the cursor out
            await until(pilot, lambda: len(view.entries) >= 3000, "the view full of lines")
            for _ in range(3):
                seen = pane.feed.received
                await until(pilot, lambda seen=seen: pane.feed.received > seen + 100, "more lines")
                await pilot.pause()
                assert view.following and view.cursor == view.entries[-1].seq, "following: the cursor on the newest"
                assert cursor_in_view(view)

            await pilot.press("up")
            assert not view.following and "SCROLLED" in status_of(pane)
            held = view.cursor_entry()
            assert held is not None
            at = view.cursor_index()
            dropped_while_held = False
            for _ in range(100):  # until the held line itself is dropped (or enough rounds)
                first = view.entries[0].seq
                await pilot.pause(0.05)
                if view.entries[0].seq > held.seq:
                    break
                assert view.cursor == held.seq, "the cursor stays on its line"
                assert cursor_in_view(view), "the lines dropped at the top did not scroll the cursor out"
                dropped_while_held = dropped_while_held or view.entries[0].seq > first
            assert dropped_while_held, f"lines were dropped at the top while the cursor held its line (at {at})"
            assert cursor_in_view(view)

            await pilot.press("F")
            assert view.following and "SCROLLED" not in status_of(pane)
            seen = pane.feed.received
            await until(pilot, lambda: pane.feed.received > seen + 100, "more lines after F")
            await pilot.pause()
            assert view.cursor == view.entries[-1].seq and cursor_in_view(view)
    finally:
        core.stop()
