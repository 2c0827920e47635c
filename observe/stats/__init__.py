"""Container resource statistics: the data the sampler publishes.

Import-light on purpose (no docker-py): faces import these types. The sampler and its
backends live in ``observe.stats.sampler``, ``observe.stats.cgroup`` and ``observe.stats.api``.
"""

from __future__ import annotations

from observe.stats.sample import (
    ContainerGone,
    DeviceIO,
    InterfaceCounters,
    Sample,
    StatsUnavailable,
    cpu_cores,
    rate,
)
from observe.stats.snapshot import ContainerStats, SamplerHealth, StatsSnapshot

__all__ = [
    "ContainerGone",
    "ContainerStats",
    "DeviceIO",
    "InterfaceCounters",
    "Sample",
    "SamplerHealth",
    "StatsSnapshot",
    "StatsUnavailable",
    "cpu_cores",
    "rate",
]
