"""From raw per-replica readings to the per-replica metric values the HPA algorithm takes. Pure.

The readings are what the stats sampler and the log collector already know about a container:
cumulative CPU seconds and error-line counts read at two times, the working set, and the limits
in force (``observe.stats.limits``: the cgroup's values, else the inspect document's). The
values are what the policy targets:

- ``cpu``: CPU utilisation, cores used / the replica's CPU limit x 100 (None without a limit);
- ``cpu_cores``: cores used (the target when replicas have no CPU limit);
- ``memory``: working set / memory limit x 100 (None without a limit);
- ``error_rate``: error-and-above log lines per second over the window;
- any named per-container metric, passed through as the replica's value.

A counter that went backwards (the container restarted) or a window of no length gives no value:
the algorithm then treats the replica as missing a sample, conservatively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from exporters.autoscale.decision import Replica
from exporters.autoscale.policy import CPU, CPU_CORES, ERROR_RATE, MEMORY, MetricTarget, Policy
from observe.stats.sample import unlimited_as_zero


@dataclass(frozen=True, slots=True)
class CounterWindow:
    """A cumulative counter read twice: ``start`` at ``start_time`` and ``end`` at ``end_time`` (seconds)."""

    start_time: float
    start: float
    end_time: float
    end: float

    def rate(self) -> float | None:
        """Increase per second; None when the window has no length or the counter was reset."""
        elapsed = self.end_time - self.start_time
        if elapsed <= 0 or self.end < self.start:
            return None
        return (self.end - self.start) / elapsed


@dataclass(frozen=True, slots=True)
class ReplicaReading:
    """What we know of one replica for autoscaling; limits of 0 mean none.

    ``cpu_seconds`` is the container's cumulative CPU time, ``error_lines`` its cumulative count
    of log lines at level error or above; ``extra`` holds named per-container metrics already
    reduced to one value per replica. ``ready`` and ``started`` carry over to ``Replica``.
    """

    name: str
    cpu_seconds: CounterWindow | None = None
    working_set_bytes: int | None = None
    memory_limit_bytes: int = 0
    cpu_limit_cores: float = 0.0
    error_lines: CounterWindow | None = None
    extra: Mapping[str, float | None] = field(default_factory=dict)
    ready: bool = True
    started: bool = True

    @property
    def has_cpu_limit(self) -> bool:
        return self.cpu_limit_cores > 0

    @property
    def has_memory_limit(self) -> bool:
        return bool(unlimited_as_zero(self.memory_limit_bytes))  # above 2**62 is cgroup v1's "no limit"


def replica_values(reading: ReplicaReading) -> dict[str, float | None]:
    """Every metric value of one replica, by metric name (None where it cannot be known)."""
    cores = reading.cpu_seconds.rate() if reading.cpu_seconds else None
    cpu = cores / reading.cpu_limit_cores * 100 if cores is not None and reading.has_cpu_limit else None
    ws = reading.working_set_bytes
    memory = ws / reading.memory_limit_bytes * 100 if ws is not None and reading.has_memory_limit else None
    errors = reading.error_lines.rate() if reading.error_lines else None
    values: dict[str, float | None] = dict(reading.extra)
    values.update({CPU: cpu, CPU_CORES: cores, MEMORY: memory, ERROR_RATE: errors})
    return values


def replicas_for(
    policy: Policy, readings: Sequence[ReplicaReading]
) -> tuple[tuple[MetricTarget, ...], list[Replica]]:
    """The targets to use and the replicas to feed ``decide`` / ``Autoscaler.evaluate`` with.

    ``cpu`` is used when every replica has a CPU limit, ``cpu_cores`` otherwise when the policy
    has both (``Policy.targets_for``).
    """
    cpu_limited = bool(readings) and all(r.has_cpu_limit for r in readings)
    targets = policy.targets_for(cpu_limited)
    replicas = [Replica(r.name, replica_values(r), ready=r.ready, started=r.started) for r in readings]
    return targets, replicas
