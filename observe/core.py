"""The composition root: ``build_core(config)`` wires the core's parts; nothing else does.

Faces (the CLI, the exporter, the TUI) receive a ``Core`` and read it; they never build
engine clients of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from observe.config import Config
from observe.engine import Engine
from observe.inventory import Inventory
from observe.model import ContainerInfo
from observe.stats.sampler import StatsSampler, choose_backend

log = logging.getLogger(__name__)


class Core:
    """The collector core as the faces see it.

    Args:
        config: the effective configuration.
        engine: a connected engine (``build_core`` makes one).
    """

    def __init__(self, config: Config, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.inventory = Inventory(engine, config.selection, config.service_label)
        self.sampler = StatsSampler(
            self.inventory,
            lambda: choose_backend(engine, config.cgroup_root, config.proc_root),
            interval=config.interval,
        )
        self._started = False

    def start(self) -> None:
        """Start following the engine. Raises EngineUnavailable when it cannot be listed."""
        if not self._started:
            self.inventory.start()
            self._started = True

    def start_sampler(self) -> None:
        """Start the inventory (if needed) and the stats sampler. Idempotent.

        Raises:
            EngineUnavailable: the engine cannot be listed.
        """
        self.start()
        self.sampler.start()

    def stop(self) -> None:
        self.sampler.stop()
        if self._started:
            self.inventory.stop()
            self._started = False
        self.engine.close()

    def inspect(self, ref: str) -> Mapping[str, Any]:
        """The inspect document of a container by name, id or id prefix.

        Raises:
            ContainerNotFound: no such container.
        """
        known = self.inventory.get(ref)
        return self.engine.inspect(known.id if known else ref)

    def container(self, ref: str) -> ContainerInfo | None:
        return self.inventory.get(ref)


def build_core(config: Config) -> Core:
    """Connect to the engine and build the core (not yet started).

    Raises:
        EngineUnavailable: the engine cannot be reached.
    """
    return Core(config, Engine(config))
