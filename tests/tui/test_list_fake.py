"""The containers list's triage, layout, groups, marks and bulk actions, driven with Pilot on the fake seam.

The fake is of our CoreView (fixed containers and stats), not of docker-py; test_list_engine.py does the
same against the real engine where Docker's side matters (exit codes, OOM, throttling, past events, stops).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from observe.engine.inspect import from_inspect
from tests.tui.fakecore import DOCS, ENGINE_INFO, FakeCore, SlowCore, fixed_clock, inspect_doc
from tests.tui.helpers import until
from tui.app import ObserveApp, make_app
from tui.modals import ConfirmScreen
from tui.panes.events import EventsPane
from tui.screens.detail import DetailScreen

API_1, API_2, DB_1, WORKER_1, CRON_1 = ("01" * 32, "02" * 32, "03" * 32, "04" * 32, "05" * 32)


def app_of(core: FakeCore) -> ObserveApp:
    return make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]


def standalone(n: int, name: str, **kw: Any) -> Any:
    doc = inspect_doc(n, name, "x", **kw)
    doc["Config"]["Labels"] = {}
    return from_inspect(doc, ENGINE_INFO)


def state_cell(app: ObserveApp, cid: str) -> str:
    main = app.main
    cell = main.table.get_cell(cid, "state")
    return cell.plain if isinstance(cell, Text) else str(cell)


async def test_at_80x24_name_state_cpu_and_memory_stay_and_wider_shows_more() -> None:
    app = app_of(FakeCore())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main.shown_ids(), "rows")
        assert app.main.columns[:4] == ["name", "state", "cpu", "memory"]
        assert "image" not in app.main.columns and "rx" not in app.main.columns
        assert app.main.table.virtual_size.width <= 80, "no column is off-screen"
        await pilot.resize_terminal(200, 40)
        await until(pilot, lambda: "image" in app.main.columns, "every column at 200 wide")
        assert app.main.columns == ["name", "service", "image", "state", "cpu", "history", "memory", "rx", "tx",
                                    "restarts", "uptime"]
        await pilot.resize_terminal(60, 24)
        await until(pilot, lambda: app.main.columns == ["name", "state", "cpu", "memory"], "the essential four")
        assert app.main.table.virtual_size.width <= 60, "NAME is cut to make room"


async def test_problems_filter_and_problems_first_sort() -> None:
    core = FakeCore()
    core.inventory.infos.append(from_inspect({**DOCS[4], "Id": "06" * 32, "Name": "/shop-oom-1",
                                              "State": {**DOCS[4]["State"], "ExitCode": 137, "OOMKilled": True}},
                                             ENGINE_INFO))
    core.inventory.infos.append(from_inspect({**DOCS[4], "Id": "07" * 32, "Name": "/shop-failed-1",
                                              "State": {**DOCS[4]["State"], "ExitCode": 2}}, ENGINE_INFO))
    app = app_of(core)
    async with app.run_test(size=(120, 30)) as pilot:
        main = app.main
        await until(pilot, lambda: len(main.shown_ids()) == 7, "rows")
        assert state_cell(app, "06" * 32) == "exited (137) OOM"
        assert state_cell(app, "07" * 32) == "exited (2)"
        await pilot.press("exclamation_mark")
        assert main.shown_ids() == ["07" * 32, "06" * 32, WORKER_1], "only problems, by name"
        await pilot.press("exclamation_mark")
        assert len(main.shown_ids()) == 7
        await pilot.press("w")
        assert main.shown_ids()[:3] == ["06" * 32, "07" * 32, WORKER_1], "OOM, exited non-zero, unhealthy"
        assert main.shown_ids()[3:] == [API_1, API_2, CRON_1, DB_1], "then the sort column's order"


async def test_standalone_containers_share_a_group_groups_follow_the_sort_and_collapse() -> None:
    core = FakeCore()
    core.inventory.infos += [standalone(8, "lone-a"), standalone(9, "lone-b", state="exited")]
    app = app_of(core)
    async with app.run_test(size=(160, 40)) as pilot:
        main = app.main
        await until(pilot, lambda: main.shown_ids(), "rows")
        await pilot.press("g")
        headers = [k for k in main.shown_keys() if k.startswith("group:")]
        assert headers == ["group:", "group:shop/api", "group:shop/cron", "group:shop/db", "group:shop/worker"], \
            "one standalone group; by name its best member (lone-a) comes first"
        main.sort_by("cpu", True)
        headers = [k for k in main.shown_keys() if k.startswith("group:")]
        assert headers[0] == "group:shop/worker", "the busiest member's group leads when sorted by CPU"
        main.select(API_2)
        await pilot.press("c")
        keys = main.shown_keys()
        assert API_1 not in keys and API_2 not in keys and "group:shop/api" in keys
        assert main.selected_key() == "group:shop/api"
        name = main.table.get_cell("group:shop/api", "name")
        assert "▶ shop/api (2 containers)" in (name.plain if isinstance(name, Text) else str(name))
        await pilot.press("c")
        assert API_1 in main.shown_keys() and API_2 in main.shown_keys()
        main.select("group:shop/db")
        await pilot.press("enter")
        assert DB_1 not in main.shown_keys() and not isinstance(app.screen, DetailScreen), "enter on a header folds"


async def test_marked_rows_get_one_confirmed_bulk_action_and_invalid_ones_are_skipped() -> None:
    core = FakeCore()
    app = app_of(core)
    async with app.run_test(size=(160, 40)) as pilot:
        main = app.main
        await until(pilot, lambda: main.shown_ids(), "rows")
        main.select(API_1)
        await pilot.press("space")
        main.select(CRON_1)
        await pilot.press("space")
        assert main.marked == {API_1, CRON_1}
        name = main.table.get_cell(API_1, "name")
        assert isinstance(name, Text) and name.plain.startswith("● "), "a marked row shows it"
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.question
        assert "Stop 2 marked containers: 1 container (shop-api-1)?" in question
        assert "shop-cron-1 (exited)" in question, "the confirmation names what is skipped"
        await pilot.press("y")
        await until(pilot, lambda: core.actions == [(API_1, "stop")], "the stop of the valid one only")
        await until(pilot, lambda: "✓ stop" in state_cell(app, API_1), "the outcome in the row")
        await pilot.press("u")
        assert not main.marked


async def test_service_restart_shows_pending_then_each_outcome() -> None:
    core = SlowCore(failing=frozenset({API_2}))
    app = app_of(core)
    async with app.run_test(size=(160, 40)) as pilot:
        main = app.main
        await until(pilot, lambda: main.shown_ids(), "rows")
        main.select(API_2)
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Restart service shop/api: 2 containers (shop-api-1, shop-api-2)?" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: state_cell(app, API_1) == state_cell(app, API_2) == "restarting…",
                    "both rows pending while the engine works")
        core.release.set()
        await until(pilot, lambda: "✓ restart" in state_cell(app, API_1), "the first one's success")
        await until(pilot, lambda: "✗ restart failed" in state_cell(app, API_2), "the second one's failure")
        assert sorted(core.actions) == [(API_1, "restart"), (API_2, "restart")]
        summary = "1 ok, 1 failed (shop-api-2: the engine refused: cannot restart)"
        await until(pilot, lambda: any(summary in n.message for n in app._notifications),
                    "the summary, posted once every outcome is in")


async def test_a_standalone_container_has_no_service_action() -> None:
    core = FakeCore()
    core.inventory.infos.append(standalone(8, "lone-a"))
    app = app_of(core)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.main.shown_ids(), "rows")
        app.main.select("08" * 32)
        await pilot.press("T")
        assert not isinstance(app.screen, ConfirmScreen) and core.actions == []


async def test_events_from_before_the_tui_are_merged_once_with_the_recorded_ones() -> None:
    core = FakeCore()
    app = app_of(core)
    async with app.run_test(size=(160, 40)) as pilot:
        app.open_detail(API_2, "events")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(EventsPane), "events")
        pane = app.screen.query_one(EventsPane)
        await until(pilot, lambda: any(e.action == "oom" for e in pane.events), "the OOM from before the TUI")
        assert [e.action for e in pane.events] == ["oom", "start", "die", "start"], "oldest first, each once"


async def test_key_hints_follow_the_focus_and_a_click_presses_the_key() -> None:
    from tui.widgets import KeyHints

    app = app_of(FakeCore())
    async with app.run_test(size=(160, 40)) as pilot:
        main = app.main
        await until(pilot, lambda: len(main.shown_ids()) > 0, "rows")
        hints = app.screen.query_one(KeyHints)
        assert "o" in hints.hints() and "ctrl+p" in hints.hints()
        start = next(s for s, _, key in hints._spans if key == "o")
        before = main.sort_key
        await pilot.click(KeyHints, offset=(start + 1, 0))
        await until(pilot, lambda: main.sort_key != before, "the click on the sort hint sorts")
        app.open_detail(main.shown_ids()[0], "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(KeyHints),
                    "the detail screen")
        detail_hints = app.screen.query_one(KeyHints)
        await until(pilot, lambda: "escape" in detail_hints.hints(), "the detail screen's own keys")
        assert "o" not in detail_hints.hints()
