"""The live inventory against the real engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from observe.config import Config
from observe.engine import Engine
from observe.inventory import Inventory, InventoryChange
from observe.selectors import LabelSelector, Selection
from tests.conftest import RUN_ID, RUN_LABEL, Containers
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine


@pytest.fixture
def inventory() -> Iterator[Inventory]:
    inv = Inventory(Engine(Config()), Selection(LabelSelector.parse(f"{RUN_LABEL}={RUN_ID}")))
    inv.start()
    yield inv
    inv.stop()


def test_new_container_appears_within_a_second(inventory: Inventory, containers: Containers) -> None:
    changes: list[InventoryChange] = []
    inventory.subscribe(changes.append)
    started = time.monotonic()
    c = containers.run("late", labels={"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
                                       "com.docker.compose.container-number": "1"})
    found = wait_for(lambda: inventory.get(c.id), "the new container in the inventory", timeout=5)
    wait_for(lambda: inventory.get(c.id) and inventory.get(c.id).state == "running", "state running")  # type: ignore[union-attr]
    assert time.monotonic() - started < 1.0 + 1.0  # container start itself takes part of this
    assert found.labels["com.docker.compose.service"] == "web"
    assert found.service.name == "shop/web" and found.service.replica == 1
    assert found.name == containers.name("late")
    assert any(ch.kind == "added" and ch.container.id == c.id for ch in changes)


def test_appears_within_one_second_of_start_event(inventory: Inventory, containers: Containers) -> None:
    c = containers.create("timed")
    wait_for(lambda: inventory.get(c.id), "created container listed")
    c.start()
    t0 = time.monotonic()
    wait_for(lambda: inventory.get(c.id).state == "running", "running state")  # type: ignore[union-attr]
    assert time.monotonic() - t0 < 1.0


def test_stop_rename_destroy(inventory: Inventory, containers: Containers) -> None:
    c = containers.run("life")
    wait_for(lambda: inventory.get(c.id) and inventory.get(c.id).state == "running", "running")  # type: ignore[union-attr]
    c.stop(timeout=0)
    info = wait_for(lambda: (i := inventory.get(c.id)) and i.state == "exited" and i, "stop reflected")
    assert info.exit_code == 137
    new_name = containers.name("renamed")
    c.rename(new_name)
    wait_for(lambda: inventory.get(c.id).name == new_name, "rename reflected")  # type: ignore[union-attr]
    events = [e.action for e in inventory.recent_events(c.id)]
    assert "rename" in events and "die" in events
    rename = next(e for e in inventory.recent_events(c.id) if e.action == "rename")
    assert rename.old_name == containers.name("life")
    c.remove(force=True)
    wait_for(lambda: inventory.get(c.id) is None, "destroy reflected")


def test_pause_health_and_oom_are_reflected(inventory: Inventory, containers: Containers) -> None:
    c = containers.run(
        "health", "touch /tmp/ok; sleep 600",
        healthcheck={"test": ["CMD", "test", "-f", "/tmp/ok"], "interval": 200_000_000, "start_period": 0},
    )
    wait_for(lambda: inventory.get(c.id) and inventory.get(c.id).health == "healthy", "healthy")  # type: ignore[union-attr]
    c.pause()
    wait_for(lambda: inventory.get(c.id).state == "paused", "paused")  # type: ignore[union-attr]
    c.unpause()
    wait_for(lambda: inventory.get(c.id).state == "running", "unpaused")  # type: ignore[union-attr]
    assert any(e.action == "health_status" and e.health == "healthy" for e in inventory.recent_events(c.id))


def test_survives_a_dropped_events_connection(inventory: Inventory, containers: Containers) -> None:
    before = inventory.reconnects
    inventory.drop_connection()
    c = containers.run("after-drop")  # happens while the stream is down or reconnecting
    wait_for(lambda: inventory.reconnects > before, "a reconnect")
    wait_for(lambda: inventory.get(c.id) and inventory.get(c.id).state == "running", "container seen after drop")  # type: ignore[union-attr]
    assert inventory.connected
    c.remove(force=True)
    wait_for(lambda: inventory.get(c.id) is None, "destroy seen on the new stream")


def test_selection_excludes(containers: Containers, docker_client: docker.DockerClient) -> None:
    selection = Selection(
        LabelSelector.parse(f"{RUN_LABEL}={RUN_ID},tier!=db"), names=(containers.name("*"), "!*-skip"),
    )
    inv = Inventory(Engine(Config()), selection)
    inv.start()
    try:
        web = containers.run("web", labels={"tier": "web"})
        db = containers.run("db", labels={"tier": "db"})
        skip = containers.run("skip")
        wait_for(lambda: inv.get(web.id), "web seen")
        wait_for(lambda: inv.get(db.id) and inv.get(skip.id), "all known to the inventory")
        names = {c.name for c in inv.containers()}
        assert containers.name("web") in names
        assert containers.name("db") not in names and containers.name("skip") not in names
    finally:
        inv.stop()


def test_selection_follows_a_rename(containers: Containers) -> None:
    """The verdict of the selection is kept per container object: a rename (a new object) is judged again."""
    inv = Inventory(Engine(Config()), Selection(LabelSelector.parse(f"{RUN_LABEL}={RUN_ID}"),
                                                names=(containers.name("sel-*"),)))
    inv.start()
    try:
        c = containers.run("sel-a")
        wait_for(lambda: [x.id for x in inv.containers()] == [c.id], "selected by its name")
        assert [x.id for x in inv.containers()] == [c.id]  # asked again: the same verdict
        c.rename(containers.name("other"))
        wait_for(lambda: inv.containers() == [], "left the selection once renamed")
        c.rename(containers.name("sel-b"))
        wait_for(lambda: [x.name for x in inv.containers()] == [containers.name("sel-b")], "back in the selection")
    finally:
        inv.stop()


class CountingEngine(Engine):
    """The real engine, remembering which containers were inspected."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.inspected: list[str] = []

    def inspect(self, container: str) -> dict[str, Any]:
        self.inspected.append(container)
        return super().inspect(container)


def test_containers_the_selection_cannot_take_are_not_inspected(containers: Containers) -> None:
    """Events of containers whose labels or name already exclude them cost no inspect; ``get`` still finds them
    (by id, prefix or name, inspected when asked), and a rename into the selection brings a container in."""
    engine = CountingEngine(Config())
    inv = Inventory(engine, Selection(LabelSelector.parse(f"{RUN_LABEL}={RUN_ID},tier=web"),
                                      names=(containers.name("sel-*"),)))
    inv.start()
    try:
        db = containers.run("sel-db", labels={"tier": "db"})
        other = containers.run("other", labels={"tier": "web"})
        web = containers.run("sel-web", labels={"tier": "web"})
        wait_for(lambda: [c.id for c in inv.containers()] == [web.id], "the selected one in view")
        assert web.id in engine.inspected
        assert db.id not in engine.inspected and other.id not in engine.inspected
        for ref in (db.id, db.id[:12], containers.name("sel-db")):
            found = inv.get(ref)
            assert found is not None and found.id == db.id and found.labels["tier"] == "db"
        assert inv.get(other.id) is not None and inv.get(other.id).state == "running"  # type: ignore[union-attr]
        other.rename(containers.name("sel-other"))
        wait_for(lambda: {c.id for c in inv.containers()} == {web.id, other.id}, "renamed into the selection")
        db.remove(force=True)
        wait_for(lambda: inv.get(db.id) is None, "a removed one is not found")
    finally:
        inv.stop()


class FlagLosingEngine(Engine):
    """The real engine, as it answers when the kernel's OOM notice reached it after the exit: no OOMKilled."""

    def inspect(self, container: str) -> dict[str, Any]:
        doc = super().inspect(container)
        doc.setdefault("State", {})["OOMKilled"] = False
        return doc


OOM_COMMAND = "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"


def test_an_oom_kill_is_known_even_when_the_engine_lost_its_flag(containers: Containers,
                                                                 docker_client: docker.DockerClient) -> None:
    selection = Selection(LabelSelector.parse(f"{RUN_LABEL}={RUN_ID}"))
    before = containers.run("oom-before", OOM_COMMAND, mem_limit="8m", memswap_limit="8m")
    killed = containers.run("killed-before")
    killed.kill()
    for c in (before, killed):
        wait_for(lambda c=c: docker_client.api.inspect_container(c.id)["State"]["Status"] == "exited", "exited")
    inv = Inventory(FlagLosingEngine(Config()), selection)
    inv.start()
    try:
        assert inv.get(before.id).oom_killed, "an OOM kill before the start: the run's past oom event"  # type: ignore[union-attr]
        assert inv.get(killed.id).exit_code == 137  # type: ignore[union-attr]
        assert not inv.get(killed.id).oom_killed, "137 from a plain kill is no OOM kill"  # type: ignore[union-attr]
        live = containers.run("oom-live", OOM_COMMAND, mem_limit="8m", memswap_limit="8m")
        info = wait_for(lambda: (i := inv.get(live.id)) and i.state == "exited" and i, "the live OOM kill")
        wait_for(lambda: inv.get(live.id).oom_killed, "the live oom event marks it")  # type: ignore[union-attr]
        assert info.exit_code == 137
    finally:
        inv.stop()
