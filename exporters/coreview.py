"""``CoreView``: everything the exporter and the autoscaler may touch of the core, as Protocols.

``observe.core.Core`` satisfies it as it is; tests pass small fakes of this seam (never of
docker-py). Importing the core itself would load docker, which no exporter module may do
(tests/architecture). ``ScrapeSource`` is the part a scrape reads; ``ScalingCore`` the verbs the
actuator calls; ``CoreView`` is all of it plus starting the sampler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from observe.config import Config
from observe.stats.snapshot import StatsSnapshot
from observe.telemetry import LogCountersSnapshot, SinkStatus


class SamplerView(Protocol):
    """The stats sampler (``observe.stats.sampler.StatsSampler``): its latest snapshot and its wall clock."""

    @property
    def clock(self) -> Callable[[], float]: ...

    def snapshot(self) -> StatsSnapshot: ...

    def subscribe(self, listener: Callable[[StatsSnapshot], None]) -> Callable[[], None]:
        """Call ``listener`` with each snapshot the sampler publishes, on its thread."""


class LogCountersView(Protocol):
    """The log counters (``observe.telemetry.LogCounters``)."""

    def snapshot(self) -> LogCountersSnapshot: ...


class ScrapeSource(Protocol):
    """What a scrape and an autoscaling round read: snapshots only, none of which waits on Docker."""

    @property
    def sampler(self) -> SamplerView: ...

    @property
    def log_counters(self) -> LogCountersView: ...

    @property
    def collecting(self) -> bool:
        """The core collects logs (``observe run``: its own collector, or its worker processes'), so
        the log counters and sink states mean something."""

    def sink_statuses(self) -> list[SinkStatus]: ...

    def engine_facts(self) -> Mapping[str, str]:
        """What the host and engine are (``kernel_version``, ``os_version``, ``docker_version``...); cached."""


class ScalingCore(Protocol):
    """The core's verbs the actuator needs."""

    def create_replica_like(self, container_id: str, number: int) -> str: ...

    def remove_replica(self, container_id: str, timeout: float | None = None) -> None: ...


class CoreView(ScrapeSource, ScalingCore, Protocol):
    """The whole seam: the configuration, the snapshots, the scaling verbs, and starting the sampler."""

    @property
    def config(self) -> Config: ...

    def start_sampler(self) -> None:
        """Start the inventory and the stats sampler (idempotent). Raises EngineUnavailable."""
