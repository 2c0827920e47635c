"""The service logs view and the detail screen's actions, on the real engine.

Replicas are containers with compose labels (the engine's own ``docker compose`` is not needed:
the core groups containers by those labels as compose makes them).
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.conftest import Containers
from tests.tui.conftest import core_for
from tests.tui.helpers import until
from tui.app import make_app
from tui.modals import ConfirmScreen
from tui.panes.service_logs import ServiceLogsPane
from tui.screens.containers import ContainersScreen
from tui.screens.detail import DetailScreen
from tui.screens.service import ServiceLogsScreen

pytestmark = pytest.mark.engine
SIZE = (160, 45)


def replica(containers: Containers, number: int, project: str = "shop", service: str = "api") -> object:
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service,
              "com.docker.compose.container-number": str(number)}
    script = f'i=0; while true; do i=$((i+1)); echo "from replica {number} line $i"; sleep 0.05; done'
    return containers.run(f"{service}-{number}", script, labels=labels)


async def test_service_logs_merge_the_replicas_and_follow_them_as_they_come_and_go(
        containers: Containers, tmp_path: Path) -> None:
    core = core_for(containers)
    try:
        one, two = replica(containers, 1), replica(containers, 2)
        other = replica(containers, 1, service="db")  # another service: never in the view
        names = {c.id: c.name for c in (one, two)}  # type: ignore[attr-defined]
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            main = app.main
            await until(pilot, lambda: len(main.shown_ids()) == 3, "three rows")
            main.select(one.id)  # type: ignore[attr-defined]
            await pilot.pause()
            await pilot.press("L")
            await until(pilot, lambda: isinstance(app.screen, ServiceLogsScreen), "the service logs screen")
            pane = app.screen.query_one(ServiceLogsPane)
            view = pane.view

            def tags() -> set[str]:
                return {e.tag for e in view.entries}

            await until(pilot, lambda: tags() == set(names.values()), "lines of both replicas, tagged by name")
            for e in view.entries:
                number = "1" if e.tag == names[one.id] else "2"  # type: ignore[attr-defined]
                assert e.message.startswith(f"from replica {number} "), "each line tagged with its own replica"
            assert other.name not in tags()  # type: ignore[attr-defined]
            times = [e.time_ns for e in list(view.entries)[-50:]]
            assert times == sorted(times), "the replicas' lines merged in time order"

            await pilot.press("f", *"replica 2", "enter")  # the same filters as a container's logs
            await until(pilot, lambda: tags() == {names[two.id]}, "the regex keeping replica 2")  # type: ignore[attr-defined]
            await pilot.press("f", *["backspace"] * 9, "enter")
            await pilot.press("space")
            assert pane.paused
            target = tmp_path / "service.log"
            pane.save_to(target)
            saved = target.read_text().splitlines()
            assert saved and all(any(f" {n} " in line for n in names.values()) for line in saved)
            await pilot.press("space")

            three = replica(containers, 3)
            await until(pilot, lambda: three.name in tags(), "the replica started meanwhile joins")  # type: ignore[attr-defined]
            two.remove(force=True)  # type: ignore[attr-defined]
            await until(pilot, lambda: two.id not in pane.streams, "the removed replica leaves")  # type: ignore[attr-defined]
            assert "3 replicas" not in pane.stream_status()
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, ContainersScreen), "back on the list")

            main.select(one.id)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail screen")
            await pilot.press("L")
            await until(pilot, lambda: isinstance(app.screen, ServiceLogsScreen), "service logs from the detail screen")
    finally:
        core.stop()


async def test_stop_from_the_detail_screen_shows_pending_then_the_new_state(
        containers: Containers, docker_client: docker.DockerClient) -> None:
    core = core_for(containers)
    try:
        c = containers.run("stopped", 'trap "exit 0" TERM; sleep 600 & wait')
        app = make_app(core, refresh_interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.main.shown_ids() == [c.id], "the container's row")
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, DetailScreen)

            def line() -> str:
                return str(screen.query_one("#detail-actions").render())

            await until(pilot, lambda: "s stop" in line(), "stop offered for a running container")
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(pilot, lambda: "stop: done" in line() or "stopping" in line(), "the action shown")
            await until(pilot, lambda: "stop: done" in line() and "S start" in line(),
                        "the result, then start offered", timeout=30)
            assert docker_client.api.inspect_container(c.id)["State"]["Status"] == "exited"
    finally:
        core.stop()
