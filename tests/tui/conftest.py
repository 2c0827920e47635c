"""A started core that sees only the containers of the running test (label ``observe.test.case``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from observe.config import Config
from observe.core import Core, build_core
from observe.selectors import LabelSelector
from tests.conftest import Containers


def core_for(containers: Containers, *, read_only: bool = False, interval: float = 0.5) -> Core:
    config = Config(label_selector=LabelSelector.parse(f"observe.test.case={containers.test_id}"),
                    interval=interval, read_only=read_only)
    core = build_core(config)
    core.start_sampler()
    return core


@pytest.fixture
def core(containers: Containers) -> Iterator[Core]:
    made = core_for(containers)
    try:
        yield made
    finally:
        made.stop()
