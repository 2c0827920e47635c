"""Container resource statistics: the data the sampler publishes.

Import-light on purpose (no docker-py): faces import these types. The sampler and its
backends live in ``observe.stats.sampler``, ``observe.stats.cgroup`` and ``observe.stats.api``.
"""

from __future__ import annotations

from observe.stats.limits import DEFAULT_CFS_PERIOD_US, Limits, effective_limits, inspect_limits
from observe.stats.sample import (
    ContainerGone,
    DeviceIO,
    InterfaceCounters,
    Pressure,
    Sample,
    StatsUnavailable,
    cpu_cores,
    rate,
)
from observe.stats.snapshot import ContainerStats, SamplerHealth, StatsSnapshot

__all__ = [
    "DEFAULT_CFS_PERIOD_US",
    "ContainerGone",
    "ContainerStats",
    "DeviceIO",
    "InterfaceCounters",
    "Limits",
    "Pressure",
    "Sample",
    "SamplerHealth",
    "StatsSnapshot",
    "StatsUnavailable",
    "cpu_cores",
    "effective_limits",
    "inspect_limits",
    "rate",
]
