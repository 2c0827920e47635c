"""The sampler's published data: immutable snapshots that faces read without touching Docker.

Kept apart from the sampler so that the exporter and the TUI can import these types without
loading docker-py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from observe.model import ContainerInfo
from observe.stats.host import FsUsage, MachineInfo
from observe.stats.limits import Limits, effective_limits
from observe.stats.sample import Sample


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """A running container with its latest sample and its recent samples, oldest first.

    ``fs`` (disk usage of its writable layer) and ``tasks`` (task counts by state) come from the
    slow schedule and are None until first measured or where the host cannot tell.
    """

    container: ContainerInfo
    latest: Sample
    history: tuple[Sample, ...]
    fs: tuple[FsUsage, ...] | None = None
    tasks: tuple[tuple[str, int], ...] | None = None
    effective: Limits | None = None  # the sampler computes it once per publish

    @property
    def limits(self) -> Limits:
        """The limits in force (``observe.stats.limits.effective_limits`` of the latest sample)."""
        if self.effective is not None:
            return self.effective
        return effective_limits(self.container, self.latest)


@dataclass(frozen=True, slots=True)
class SamplerHealth:
    """How the sampler itself is doing: what the exporter reports as ``observe_sampler_*``."""

    backend: str = ""
    interval: float = 1.0
    running: bool = False
    sweeps: int = 0
    errors: int = 0
    last_sweep_seconds: float | None = None
    last_success: float | None = None  # unix time of the last sweep in which every read succeeded
    last_error: str = ""
    last_sweep_errors: int = 0  # reads that failed in the last sweep (cAdvisor's container_scrape_error)


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """What the sampler knew after its last sweep.

    ``containers`` are all selected containers (running or not), sorted by name; ``stats`` has
    an entry for each running one that has been sampled. ``root`` is the root cgroup (the whole
    machine, cAdvisor's ``id="/"``) and ``machine`` the host's description, where the backend
    reads local files; both None otherwise.
    """

    time: float
    containers: tuple[ContainerInfo, ...] = ()
    stats: Mapping[str, ContainerStats] = field(default_factory=dict)
    health: SamplerHealth = field(default_factory=SamplerHealth)
    root: ContainerStats | None = None
    machine: MachineInfo | None = None

    def get(self, container_id: str) -> ContainerStats | None:
        return self.stats.get(container_id)
