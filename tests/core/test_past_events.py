"""``Core.past_events``: what the engine still holds of a container's events from before the core started,
normalised as the live ones are, and bounded by ``since`` and ``until``."""

from __future__ import annotations

import time

import docker
import pytest

from observe.config import Config
from observe.core import build_core
from observe.selectors import LabelSelector
from tests.conftest import Containers
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine


def test_events_from_before_the_core_started_with_their_exit_code(containers: Containers,
                                                                  docker_client: docker.DockerClient) -> None:
    before = time.time() - 1
    other = containers.run("other", "true")
    c = containers.run("failing", "exit 5")
    wait_for(lambda: docker_client.api.inspect_container(c.id)["State"]["Status"] == "exited", "the exit")
    wait_for(lambda: docker_client.api.inspect_container(other.id)["State"]["Status"] == "exited", "the other exit")
    between = time.time()
    core = build_core(Config(label_selector=LabelSelector.parse(f"observe.test.case={containers.test_id}")))
    core.start()
    try:
        info = core.inventory.get(c.id)
        assert info is not None and info.exit_code == 5 and not info.oom_killed
        events = core.past_events(c.id, before)
        actions = [e.action for e in events]
        assert actions[:3] == ["create", "start", "die"], actions
        assert {e.container_id for e in events} == {c.id}, "only that container's"
        assert [e.time_ns for e in events] == sorted(e.time_ns for e in events)
        die = events[actions.index("die")]
        assert die.exit_code == 5 and die.name == c.name
        docker_client.api.start(c.id)
        wait_for(lambda: [e.action for e in core.past_events(c.id, before)].count("start") == 2, "a later start")
        assert [e.action for e in core.past_events(c.id, before, until=between)].count("start") == 1, \
            "until bounds the window"
    finally:
        core.stop()
