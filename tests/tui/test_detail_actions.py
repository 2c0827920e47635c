"""The detail screen: the list's actions (tui.actions), pending then the result; the logs tab's rendering cost.

On the fake of the CoreView seam, with an action that blocks until the test lets it finish, so the
pending state can be seen; the real engine's stop from the detail screen is in test_service_logs_engine.py.
"""

from __future__ import annotations

from tests.tui.fakecore import RECORDS, FakeCore, SlowCore, fixed_clock, record
from tests.tui.helpers import until
from tests.tui.test_app_fake import PushingCore
from tui.actions import ActionTracker, offered, status_text, valid_verbs
from tui.app import ObserveApp, make_app
from tui.logview import LogView
from tui.modals import ConfirmScreen, PromptScreen
from tui.panes import LogsPane
from tui.screens.detail import DetailScreen

API_1 = "01" * 32
CRON = "05" * 32  # exited


def actions_line(screen: DetailScreen) -> str:
    return str(screen.query_one("#detail-actions").render())


async def test_stop_on_the_detail_screen_shows_pending_then_done() -> None:
    core = SlowCore()
    app = make_app_fake(core)
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_detail(API_1, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "detail")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        line = actions_line(screen)
        assert "s stop" in line and "d remove (will force)" in line and "S start" not in line
        await pilot.press("s")  # stop, not save: the save of the logs pane is ctrl+s
        assert isinstance(app.screen, ConfirmScreen) and "Stop container shop-api-1" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: "stopping…" in actions_line(screen), "the pending state while the engine works")
        await pilot.press("s")  # a second action while one is pending is refused, not asked
        assert not isinstance(app.screen, ConfirmScreen)
        core.release.set()
        await until(pilot, lambda: "stop: done" in actions_line(screen), "the result")
        assert core.actions == [(API_1, "stop")]
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PromptScreen), "ctrl+s saves the logs"


async def test_the_detail_screen_offers_the_actions_of_the_state() -> None:
    core = FakeCore()
    app = make_app_fake(core)
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_detail(CRON, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "detail")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        line = actions_line(screen)
        assert "S start" in line and "d remove" in line and "force" not in line and "k kill" not in line
        await pilot.press("k")  # the list's rule: refused at once, no question, no engine call
        await pilot.pause()
        assert app.screen is screen and core.actions == []


def test_actions_by_state_and_the_status_line() -> None:
    assert valid_verbs("exited") == ["start", "restart", "remove"]
    assert offered("running").endswith("d remove (will force)") and "force" not in offered("exited")
    now = [100.0]
    tracker = ActionTracker(clock=lambda: now[0])
    assert status_text(tracker, "c") == ""
    tracker.start("c", "stop")
    now[0] += 60
    assert "stopping…" in status_text(tracker, "c"), "pending stays however long the engine takes"
    tracker.finish("c", "stop", "boom")
    assert "stop failed" in status_text(tracker, "c") and "boom" in status_text(tracker, "c")
    now[0] += 60
    assert status_text(tracker, "c") == ""


def make_app_fake(core: FakeCore) -> ObserveApp:
    return make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]


async def test_a_hidden_logs_tab_keeps_the_history_only_and_catches_up_when_shown() -> None:
    core = PushingCore()
    app = make_app_fake(core)
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_detail(API_1, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "logs pane")
        pane = app.screen.query_one(LogsPane)
        view = pane.view
        await until(pilot, lambda: len(view.entries) == len(RECORDS), "the first records")
        assert core.push is not None
        await pilot.press("2")  # the Stats tab: the logs pane is hidden
        await pilot.pause()
        core.push([record(30 + i, "info", f"while hidden {i}") for i in range(50)])
        await until(pilot, lambda: len(pane.buffer) == len(RECORDS) + 50, "the records in the history")
        assert len(view.entries) == len(RECORDS), "a hidden tab does no view work"
        await pilot.press("1")
        await until(pilot, lambda: len(view.entries) == len(RECORDS) + 50, "the view caught up once shown")
        assert view.entries[-1].message == "while hidden 49" and view.following


async def test_a_busy_log_does_not_lay_out_the_screen_at_every_append() -> None:
    core = PushingCore()
    app = make_app_fake(core)
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_detail(API_1, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "logs pane")
        screen = app.screen
        view = screen.query_one(LogView)
        assert core.push is not None
        core.push([record(100 + i, "info", f"filler {i}") for i in range(100)])  # the scrollbar is there now
        await until(pilot, lambda: len(view.entries) >= 100, "a screenful and more")
        await pilot.pause(0.2)
        layouts = [0]
        original = screen._refresh_layout

        def counting(*args: object, **kwargs: object) -> None:
            layouts[0] += 1
            original(*args, **kwargs)  # type: ignore[arg-type]

        screen._refresh_layout = counting  # type: ignore[method-assign]
        for n in range(12):  # twelve drains of new lines, each its own append
            core.push([record(300 + n * 10 + i, "info", f"busy {n}.{i}") for i in range(10)])
            await pilot.pause(0.12)
        await until(pilot, lambda: view.entries[-1].message == "busy 11.9", "the last lines")
        assert view.following and layouts[0] <= 2, f"{layouts[0]} screen layouts for 12 appends"
