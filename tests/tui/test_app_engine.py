"""The TUI driven with Pilot against the real engine: what a user sees and does, end to end."""

from __future__ import annotations

import json

import docker
import pytest
from textual.widgets import Tree

from observe.errors import ObserveError
from tests.conftest import Containers
from tests.support.waiting import wait_for
from tests.tui.conftest import core_for
from tests.tui.helpers import until
from tui.app import make_app
from tui.logview import LogView
from tui.modals import ConfirmScreen, TextScreen
from tui.panes import InspectPane, LogsPane
from tui.screens.containers import ContainersScreen
from tui.screens.detail import DetailScreen

pytestmark = pytest.mark.engine
SIZE = (160, 45)


def json_line(level: str, msg: str) -> str:
    return "echo '" + json.dumps({"level": level, "msg": msg}) + "'"


async def test_rows_appear_and_disappear(containers: Containers) -> None:
    core = core_for(containers)
    try:
        a = containers.run("alpha")
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            main = app.main
            await until(pilot, lambda: main.shown_ids() == [a.id], "the first container's row")
            b = containers.run("beta")
            await until(pilot, lambda: main.shown_ids() == [a.id, b.id], "the second container's row")
            main.select(b.id)
            await pilot.pause()
            assert main.selected_id() == b.id
            a.remove(force=True)
            await until(pilot, lambda: main.shown_ids() == [b.id], "the removed container's row to go")
            assert main.selected_id() == b.id, "the cursor stays on the same container when rows change"
    finally:
        core.stop()


async def test_sorting_and_filtering_change_the_rows(containers: Containers) -> None:
    core = core_for(containers)
    try:
        # Letters outside hex, so that the random hex in the names' prefix cannot match the filter.
        names = ["alpha", "bravo", "charlie"]
        made = [containers.run(n, labels={"tier": "front" if n != "bravo" else "back"}) for n in names]
        ids = [c.id for c in made]
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            main = app.main
            await until(pilot, lambda: main.shown_ids() == ids, "three rows in name order")
            main.sort_by("name", descending=True)
            await pilot.pause()
            assert main.shown_ids() == ids[::-1]
            await pilot.press("O")  # reverse the sort again
            assert main.shown_ids() == ids
            await pilot.click("#containers", offset=(2, 0))  # the NAME header: sorts by it, reversed
            await until(pilot, lambda: main.shown_ids() == ids[::-1], "a click on the header to reverse the sort")

            await pilot.press("slash", *"bravo")
            await until(pilot, lambda: main.shown_ids() == [ids[1]], "the filter to keep bravo only")
            await pilot.press(*["backspace"] * 5, *"tier=front")
            await until(pilot, lambda: sorted(main.shown_ids()) == sorted([ids[0], ids[2]]),
                        "the label selector to keep the front tier")
            await pilot.press("enter")  # back to the table
            assert isinstance(app.focused, type(main.table))

            made[0].stop(timeout=0)
            await until(pilot, lambda: ids[0] in main.shown_ids(), "a stopped container is still listed")
            await pilot.press("a")  # running only
            await until(pilot, lambda: main.shown_ids() == [ids[2]], "stopped containers hidden")
    finally:
        core.stop()


async def test_logs_pane_shows_lines_and_level_filter_hides_lower_levels(containers: Containers) -> None:
    core = core_for(containers)
    try:
        script = "; ".join([json_line("info", "hello-info"), json_line("error", "boom-error"),
                            json_line("debug", "quiet-debug"), json_line("warn", "careful-warn"), "sleep 600"])
        c = containers.run("talker", script)
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [c.id], "the container's row")
            await pilot.press("enter")
            assert isinstance(app.screen, DetailScreen)
            view = app.screen.query_one(LogView)

            def shown() -> list[str]:
                return [e.message for e in view.entries]

            await until(pilot, lambda: len(shown()) == 4, "the four lines in the logs pane")
            assert shown() == ["hello-info", "boom-error", "quiet-debug", "careful-warn"]
            assert [e.level for e in view.entries] == ["info", "error", "debug", "warn"]
            pane = app.screen.query_one(LogsPane)
            await pilot.press("l", "l", "l")  # all -> debug -> info -> warn
            assert pane.query_.min_level == "warn"
            assert shown() == ["boom-error", "careful-warn"]
            await pilot.press("l")
            assert shown() == ["boom-error"]
            await pilot.press("l")  # back to everything
            assert len(shown()) == 4

            await pilot.press("f", *"care|hello", "enter")
            assert shown() == ["hello-info", "careful-warn"]
            await pilot.press("f", *["backspace"] * 10, "enter")
            assert len(shown()) == 4
            await pilot.press("home", "enter")  # the first line's record as JSON
            assert isinstance(app.screen, TextScreen)
            assert '"message": "hello-info"' in str(app.screen.body)
            await pilot.press("escape", "escape")
            assert isinstance(app.screen, ContainersScreen)
    finally:
        core.stop()


async def test_inspect_shows_the_container_id(containers: Containers) -> None:
    core = core_for(containers)
    try:
        c = containers.run("inspected", environment={"API_TOKEN": "s3cret-value", "PLAIN": "visible"})
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [c.id], "the container's row")
            await pilot.press("i")
            pane = app.screen.query_one(InspectPane)
            tree = pane.query_one(Tree)
            await until(pilot, lambda: c.id in str(tree.root.label), "the inspect tree naming the container id")
            assert pane.doc["Id"] == c.id
            env = dict(pane.query_one("#table-env").get_row_at(i) for i in range(3))  # type: ignore[attr-defined]
            assert env["PLAIN"] == "visible" and env["API_TOKEN"] != "s3cret-value"
            await pilot.press("m")
            env = dict(pane.query_one("#table-env").get_row_at(i) for i in range(3))  # type: ignore[attr-defined]
            assert env["API_TOKEN"] == "s3cret-value"
    finally:
        core.stop()


async def test_restart_from_the_tui_restarts_the_container(containers: Containers,
                                                           docker_client: docker.DockerClient) -> None:
    core = core_for(containers)
    try:
        c = containers.run("restarted")
        before = docker_client.api.inspect_container(c.id)["State"]["StartedAt"]
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [c.id], "the container's row")
            await pilot.press("r")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")

            def started_at() -> str:
                return str(docker_client.api.inspect_container(c.id)["State"]["StartedAt"])

            await until(pilot, lambda: started_at() != before, "the engine's start time to change", timeout=30)
    finally:
        core.stop()


async def test_run_command_shows_its_output(containers: Containers) -> None:
    core = core_for(containers)
    try:
        c = containers.run("runner")
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [c.id], "the container's row")
            await pilot.press("x", *"echo out-$((40+2))", "enter")
            await until(pilot, lambda: isinstance(app.screen, TextScreen), "the command's output")
            assert isinstance(app.screen, TextScreen)
            assert "out-42" in str(app.screen.body)
            assert "exit code 0" in app.screen.title_text
    finally:
        core.stop()


async def test_read_only_offers_no_exec_and_no_actions(containers: Containers) -> None:
    core = core_for(containers, read_only=True)
    try:
        c = containers.run("guarded")
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            main = app.main
            await until(pilot, lambda: main.shown_ids() == [c.id], "the container's row")
            for action in ("exec", "exec_command", "run", "act", "pause"):
                assert main.check_action(action, ()) is False
            keys = {b.binding.action for b in app.screen.active_bindings.values()
                    if app.screen.check_action(b.binding.action.split("(")[0], ()) is not False}
            assert not {"exec", "run"} & keys
            await pilot.press("r", "e", "x", "k", "d")
            assert isinstance(app.screen, ContainersScreen), "no confirmation, shell or prompt opened"
            titles = [cmd.title for cmd in app.get_system_commands(app.screen)]
            assert any(t.startswith("Logs:") for t in titles)
            assert not [t for t in titles if t.split(":")[0] in
                        ("Shell", "Exec a command", "Run a command", "Restart", "Stop", "Kill", "Remove", "Pause")]
            await pilot.press("enter")
            assert isinstance(app.screen, DetailScreen)
            assert app.screen.check_action("exec", ()) is False
            with pytest.raises(ObserveError, match="read-only"):
                core.action(c.id, "restart")
        assert wait_for(lambda: c.reload() or c.status == "running", "the container still running")
    finally:
        core.stop()
