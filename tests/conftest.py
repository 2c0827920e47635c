"""Fixtures shared by the suite. Engine tests use the real engine that scripts/engine.sh starts.

Every container a test creates carries this run's label and is removed afterwards, even when
the test fails.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

TEST_IMAGE = os.environ.get("OBSERVE_TEST_IMAGE", "observe-test/busybox:1")
RUN_LABEL = "observe.test.run"
RUN_ID = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as err:  # the test command starts the engine first
        pytest.fail(f"no Docker engine answers ({err}); run scripts/engine.sh first")
    yield client
    for c in client.containers.list(all=True, sparse=True, filters={"label": f"{RUN_LABEL}={RUN_ID}"}):
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)
    client.close()


class Containers:
    """Starts labelled test containers and removes them when the test ends."""

    def __init__(self, client: docker.DockerClient, test_id: str) -> None:
        self.client = client
        self.test_id = test_id
        self.made: list[Any] = []

    def name(self, base: str) -> str:
        return f"obs-{self.test_id}-{base}"

    def run(self, base: str, command: str | list[str] = "sleep 600", *, labels: dict[str, str] | None = None,
            detach: bool = True, **kwargs: Any) -> Any:
        all_labels = {RUN_LABEL: RUN_ID, "observe.test.case": self.test_id, **(labels or {})}
        kwargs.setdefault("network_mode", "none")
        cmd = ["sh", "-c", command] if isinstance(command, str) else command
        c = self.client.containers.run(TEST_IMAGE, cmd, name=self.name(base), labels=all_labels,
                                       detach=detach, **kwargs)
        self.made.append(c)
        return c

    def create(self, base: str, command: str = "sleep 600", *, labels: dict[str, str] | None = None,
               **kwargs: Any) -> Any:
        all_labels = {RUN_LABEL: RUN_ID, "observe.test.case": self.test_id, **(labels or {})}
        kwargs.setdefault("network_mode", "none")
        c = self.client.containers.create(TEST_IMAGE, ["sh", "-c", command], name=self.name(base),
                                          labels=all_labels, **kwargs)
        self.made.append(c)
        return c

    def cleanup(self) -> None:
        for c in self.client.containers.list(all=True, sparse=True,
                                             filters={"label": f"observe.test.case={self.test_id}"}):
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)


@pytest.fixture
def containers(docker_client: docker.DockerClient) -> Iterator[Containers]:
    helper = Containers(docker_client, uuid.uuid4().hex[:8])
    try:
        yield helper
    finally:
        helper.cleanup()
