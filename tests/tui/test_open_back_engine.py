"""Open a busy container's detail, go back half a second later, again and again: never a crash, always lines.

The operator's rhythm that found two bugs: escape before the detail screen had composed
(``NoMatches`` from ``action_back``), and a logs pane that stayed empty because its stream got
a pooled connection whose socket had been closed under it. ``slow`` runs the full 100 rounds
(``pytest -m slow tests/tui``); the default run does a few.
"""

from __future__ import annotations

import pytest

from tests.conftest import Containers
from tests.tui.conftest import core_for
from tests.tui.helpers import until
from tui.app import make_app
from tui.logview import LogView
from tui.screens.containers import ContainersScreen
from tui.screens.detail import DetailScreen

pytestmark = pytest.mark.engine
BUSY = "i=0; while true; do i=$((i+1)); echo \"busy line $i\"; usleep 500; done"


async def open_then_back(containers: Containers, rounds: int) -> None:
    core = core_for(containers)
    try:
        busy = containers.run("busy", BUSY)
        app = make_app(core, refresh_interval=0.5)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [busy.id], "the busy container's row")
            for n in range(rounds):
                await pilot.press("enter")
                screen = app.screen
                assert isinstance(screen, DetailScreen), f"round {n}: enter opened no detail"
                await until(pilot, lambda screen=screen: screen.query(LogView) and screen.query_one(LogView).entries,
                            f"log lines in round {n}")
                await pilot.pause(0.5)
                await pilot.press("escape")
                await until(pilot, lambda: isinstance(app.screen, ContainersScreen), f"back on the list (round {n})")
            assert app.is_running and app.return_code in (None, 0)
    finally:
        core.stop()


async def test_open_then_back_a_few_rounds(containers: Containers) -> None:
    await open_then_back(containers, 3)


@pytest.mark.slow
async def test_open_then_back_100_rounds(containers: Containers) -> None:
    await open_then_back(containers, 100)
