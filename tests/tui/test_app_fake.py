"""Logs-pane and palette behaviour on the fixed fake of the CoreView seam (no engine needed).

The engine-facing behaviour (rows, logs, inspect, restart, read-only) is tested on the real
engine in test_app_engine.py; these cover the pane's own controls with records pushed at will.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from observe.model import Record, StreamState
from tests.tui.fakecore import RECORDS, FakeCore, fixed_clock, record
from tests.tui.helpers import until
from tui.app import OUTPUT_CHARS, OUTPUT_LINES, make_app, output_tail
from tui.logview import LogView
from tui.modals import ConfirmScreen
from tui.panes import LogsPane, ProcessesPane
from tui.screens.detail import DetailScreen

API_1 = "01" * 32


class PushingCore(FakeCore):
    """Keeps the log callback so the test can deliver more records later, as the core's thread would."""

    def __init__(self) -> None:
        super().__init__()
        self.push: Callable[[list[Record]], None] | None = None
        self.state: Callable[[StreamState], None] | None = None

    def follow_logs(self, container_id: str, on_records: Callable[[list[Record]], None],
                    tail: int = 500, on_state: Callable[[StreamState], None] | None = None) -> Callable[[], None]:
        self.push = on_records
        self.state = on_state
        return super().follow_logs(container_id, on_records, tail, on_state)


async def test_pause_save_wrap_and_timestamps(tmp_path: Path) -> None:
    core = PushingCore()
    app = make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_detail(API_1, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "logs pane")
        pane = app.screen.query_one(LogsPane)
        view = pane.view
        await until(pilot, lambda: len(view.entries) == len(RECORDS), "the first records")
        assert core.push is not None

        await pilot.press("space")
        assert pane.paused
        core.push([record(20, "info", "while paused")])
        await until(pilot, lambda: len(pane.buffer) == len(RECORDS) + 1, "the record in the buffer")
        assert len(view.entries) == len(RECORDS), "a paused view does not move"
        await pilot.press("l", "l", "l", "l", "l")  # a filter round trip while paused: still the frozen lines
        assert len(view.entries) == len(RECORDS) and pane.query_.min_level == ""
        await pilot.press("space")
        assert [e.message for e in view.entries][-1] == "while paused", "nothing read while paused is lost"

        await pilot.press("t")
        assert not view.timestamps and not view.entries[0].line(view.timestamps).startswith("11:")
        long = "x" * 300
        core.push([record(21, "warn", long)])
        await until(pilot, lambda: view.entries[-1].message == long, "the long line")
        rows_before = view.virtual_size.height
        await pilot.press("w")
        assert view.wrap and view.virtual_size.height > rows_before, "wrapping makes more rows than entries"

        await pilot.press("l", "l", "l")  # warn and above
        target = tmp_path / "saved.log"
        pane.save_to(target)
        saved = target.read_text().splitlines()
        heads = [e.line(False).split("  [+")[0] for e in view.entries]
        assert [line for line in saved if line in heads] == heads, "one head line per shown record, in order"
        assert "TimeoutError" in saved, "whole records: the lines after the first are saved too"
        assert all(" INFO " not in f" {line} " for line in saved) and any(long in line for line in saved)


async def test_actions_ask_first_and_the_palette_lists_them() -> None:
    core = FakeCore()
    app = make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.main.shown_ids(), "rows")
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert core.actions == []
        await pilot.press("s", "y")
        await until(pilot, lambda: core.actions == [(API_1, "stop")], "the stop action after yes")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for wanted in ("Restart: shop-api-1", "Remove: shop-api-1", "Shell: shop-api-1", "Logs: shop-api-1",
                       "Group by service", "Sort by cpu", "Toggle stopped containers"):
            assert wanted in titles
        await pilot.press("e")  # no real terminal under run_test: the session is closed and a notification says why
        assert app.is_running and len(core.sessions) == 1 and core.sessions[0].closed


async def test_back_at_once_after_open_never_crashes() -> None:
    # Escape can arrive before the detail screen has composed its panes (a busy host, a fast hand).
    core = FakeCore()
    app = make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.main.shown_ids(), "rows")
        for n in range(8):
            app.open_detail(API_1, "logs")
            screen = app.screen
            assert isinstance(screen, DetailScreen)
            screen.action_back()  # before compose
            screen.action_tab("stats")
            await pilot.pause()
            await until(pilot, lambda: app.screen is app.main, f"back on the list (round {n})")
        for n in range(8):
            await pilot.press("enter", "escape")  # no pause between open and back
            await until(pilot, lambda: app.screen is app.main, f"back on the list after keys (round {n})")
        assert app.return_code in (None, 0)


async def test_actions_follow_the_state_and_removing_a_running_container_says_it_forces() -> None:
    core = FakeCore()
    app = make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]
    cron = next(c.id for c in core.inventory.containers() if c.name == "shop-cron-1")  # exited
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.main.shown_ids(), "rows")
        app.main.select(cron)
        await pilot.pause()
        await pilot.press("k")  # kill an exited container: refused at once, no question, no engine call
        assert not isinstance(app.screen, ConfirmScreen)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Start: shop-cron-1" in titles and "Kill: shop-cron-1" not in titles
        app.main.select(API_1)
        await pilot.pause()
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen) and "force" in app.screen.question
        await pilot.press("n")
        app.open_detail(API_1, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "detail")
        await pilot.press("r")  # the detail screen has the actions too
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: core.actions == [(API_1, "restart")], "the restart from the detail screen")


async def test_hidden_tabs_are_built_when_shown_and_do_not_poll() -> None:
    core = FakeCore()
    app = make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_detail(API_1, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "logs pane")
        screen = app.screen
        assert not screen.query(ProcessesPane), "a tab never shown is not built (nor polls docker top)"
        await pilot.press("4")
        await until(pilot, lambda: screen.query(ProcessesPane), "the processes pane once shown")
        await pilot.press("1")
        await pilot.pause()
        assert not screen.query_one(ProcessesPane).shown()


def test_a_huge_command_output_is_drawn_as_its_tail() -> None:
    big = "\n".join(f"line {i}" for i in range(300_000))  # about 3 MB
    shown = output_tail(big)
    assert len(shown) < OUTPUT_CHARS + 200 and shown.endswith("line 299999")
    assert shown.count("\n") <= OUTPUT_LINES and "left out" in shown.splitlines()[0]
    assert output_tail("small\noutput") == "small\noutput"


async def test_a_closed_logs_pane_lets_its_history_go() -> None:
    core = PushingCore()
    app = make_app(core, clock=fixed_clock, refresh_interval=3600)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_detail(API_1, "logs")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.query(LogView), "logs pane")
        pane = app.screen.query_one(LogsPane)
        view = pane.view
        await until(pilot, lambda: len(view.entries) == len(RECORDS), "the first records")
        await pilot.press("space")  # paused: a snapshot of the history is held too
        assert pane.frozen
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), "back to the list")
        # Still referenced here (as the closed screen's reference cycle would hold it until a full collection).
        assert len(pane.buffer) == 0 and not pane.frozen and len(view.entries) == 0, "the history was released"


def test_the_tui_process_settings() -> None:
    import subprocess
    import sys

    code = ("import gc, sys; from tui.runtime import tune_process, YOUNG, SWITCH_INTERVAL; "
            "from observe.runtime import FULL_AFTER; tune_process(); "
            "assert gc.get_freeze_count() > 1000, gc.get_freeze_count(); "
            "assert gc.get_threshold() == (YOUNG, 10, FULL_AFTER) and FULL_AFTER > 10, gc.get_threshold(); "
            "assert sys.getswitchinterval() == SWITCH_INTERVAL < 0.005")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
