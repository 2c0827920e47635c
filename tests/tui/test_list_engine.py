"""The triage-first list against the real engine: exit codes, OOM kills, CPU limits and throttling, events
from before the TUI started, and bulk actions on marked containers, at the 80x24 an operator may have."""

from __future__ import annotations

import docker
import pytest
from rich.text import Text

from tests.conftest import Containers
from tests.support.waiting import wait_for
from tests.tui.conftest import core_for
from tests.tui.helpers import until
from tui.app import ObserveApp, make_app
from tui.modals import ConfirmScreen
from tui.panes.events import EventsPane
from tui.screens.detail import DetailScreen

pytestmark = pytest.mark.engine
SMALL = (80, 24)
QUICK_STOP = "trap 'exit 0' TERM; sleep 600 & wait"
"""A PID 1 that ends at SIGTERM (sleep alone ignores it, and a stop would wait 10 s)."""


def cell(app: ObserveApp, cid: str, column: str) -> str:
    value = app.main.table.get_cell(cid, column) if cid in app.main.shown_ids() else ""
    return value.plain if isinstance(value, Text) else str(value)


async def test_state_shows_exit_code_and_oom_cpu_shows_the_limit_and_throttling(containers: Containers,
                                                                                 docker_client: docker.DockerClient
                                                                                 ) -> None:
    failed = containers.run("failed", "exit 3")
    oom = containers.run("oom", "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done", mem_limit="8m", memswap_limit="8m")
    busy = containers.run("busy", "while :; do :; done", nano_cpus=200_000_000)
    fine = containers.run("fine")
    wait_for(lambda: docker_client.api.inspect_container(oom.id)["State"]["Status"] == "exited", "the OOM kill")
    core = core_for(containers)
    try:
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SMALL) as pilot:
            main = app.main
            await until(pilot, lambda: len(main.shown_ids()) == 4, "the four rows")
            assert main.columns[:4] == ["name", "state", "cpu", "memory"], "the essentials fit 80 columns"
            assert main.table.virtual_size.width <= SMALL[0]
            await until(pilot, lambda: cell(app, failed.id, "state") == "exited (3)", "the exit code in STATE")
            assert cell(app, oom.id, "state") == "exited (137) OOM"
            await until(pilot, lambda: "thr" in cell(app, busy.id, "cpu"), "the busy container throttled")
            assert "% of 0.2" in cell(app, busy.id, "cpu"), cell(app, busy.id, "cpu")
            await pilot.press("exclamation_mark")
            await until(pilot, lambda: set(main.shown_ids()) == {failed.id, oom.id}, "only the problems")
            await pilot.press("exclamation_mark", "w")
            await until(pilot, lambda: main.shown_ids()[:2] == [oom.id, failed.id] and len(main.shown_ids()) == 4,
                        "the OOM kill first, then the failed exit, then the rest")
            assert set(main.shown_ids()[2:]) == {busy.id, fine.id}
    finally:
        core.stop()


async def test_events_from_before_the_tui_are_shown_once(containers: Containers,
                                                         docker_client: docker.DockerClient) -> None:
    c = containers.run("early", QUICK_STOP)
    c.stop(timeout=5)
    c.start()
    core = core_for(containers)
    try:
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SMALL) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [c.id], "the row")
            app.open_detail(c.id, "events")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(EventsPane),
                        "the events tab")
            pane = app.screen.query_one(EventsPane)
            await until(pilot, lambda: [e.action for e in pane.events].count("start") == 2,
                        "both starts from before the TUI")
            assert [e.action for e in pane.events if e.action in ("create", "start", "die", "stop")] == \
                ["create", "start", "die", "stop", "start"]
            docker_client.api.kill(c.id)
            await until(pilot, lambda: [e.action for e in pane.events].count("die") == 2, "a live die after them")
            keys = [(e.time_ns, e.action, e.health) for e in pane.events]
            assert len(keys) == len(set(keys)), "no event twice"
    finally:
        core.stop()


async def test_marked_containers_stop_together_and_a_stopped_one_is_skipped(containers: Containers,
                                                                            docker_client: docker.DockerClient
                                                                            ) -> None:
    a = containers.run("ant", QUICK_STOP)
    b = containers.run("bee", QUICK_STOP)
    done = containers.run("cat", "true")
    wait_for(lambda: docker_client.api.inspect_container(done.id)["State"]["Status"] == "exited", "cat exits")
    core = core_for(containers)
    try:
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SMALL) as pilot:
            main = app.main
            await until(pilot, lambda: len(main.shown_ids()) == 3, "the rows")
            for cid in (a.id, b.id, done.id):
                main.select(cid)
                await pilot.press("space")
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmScreen)
            assert "2 containers" in app.screen.question and "(exited)" in app.screen.question
            await pilot.press("y")

            def status(cid: str) -> str:
                return str(docker_client.api.inspect_container(cid)["State"]["Status"])

            await until(pilot, lambda: status(a.id) == status(b.id) == "exited", "both stopped", timeout=30)
            await until(pilot, lambda: "✓ stop" in cell(app, a.id, "state") and "✓ stop" in cell(app, b.id, "state"),
                        "each row's outcome")
            messages = [n.message for n in app._notifications]
            assert any("2 ok" in m and "skipped" in m for m in messages), messages
    finally:
        core.stop()
