"""A container's effective limits: the one place that decides what CPU and memory a container may use.

Two sources disagree in small ways: the cgroup files (what is in force now, so ``docker update``
shows at once) and the inspect document (all a remote engine gives, and all there is before the
first sample). The cgroup wins whenever it reports a value; the inspect document fills the rest.
The exporter's ``container_spec_*`` gauges, the autoscaler's utilisation and the TUI's memory
column all read ``effective_limits`` (or ``ContainerStats.limits``), so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from observe.model import ContainerInfo
from observe.stats.sample import Sample, unlimited_as_zero

DEFAULT_CFS_PERIOD_US = 100_000
"""The kernel's CFS period, which the engine uses when ``CpuPeriod`` is 0 (also to turn ``--cpus`` into a quota)."""
DEFAULT_CPU_SHARES = 1024
"""The kernel's default ``cpu.shares`` (what the engine leaves when ``CpuShares`` is 0)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits in force for one container; 0 means "no limit" for every field but the period and shares.

    Attributes:
        cpu_quota_us: CFS quota, microseconds of CPU per period.
        cpu_period_us: CFS period in microseconds.
        cpu_shares: relative CPU weight, in cgroup v1 shares.
        memory_bytes: the hard memory limit.
        memory_reservation_bytes: the soft limit (``--memory-reservation``).
        memory_swap_bytes: the swap limit as the cgroup states it (v1: memory plus swap; v2: swap alone).
    """

    cpu_quota_us: int = 0
    cpu_period_us: int = DEFAULT_CFS_PERIOD_US
    cpu_shares: int = DEFAULT_CPU_SHARES
    memory_bytes: int = 0
    memory_reservation_bytes: int = 0
    memory_swap_bytes: int = 0

    @property
    def cpu_cores(self) -> float:
        """The CPU limit in cores (quota / period); 0.0 without a quota."""
        if self.cpu_quota_us <= 0 or self.cpu_period_us <= 0:
            return 0.0
        return self.cpu_quota_us / self.cpu_period_us


def inspect_cpu_quota_us(nano_cpus: int, cpu_quota: int, cpu_period: int) -> int:
    """The CFS quota a HostConfig asks for: ``--cpus`` (NanoCpus over the default period) or ``--cpu-quota``.

    0 for none.

    The engine refuses both at once; should a document carry both, NanoCpus wins as the engine's
    own conversion does.
    """
    if nano_cpus > 0:
        return nano_cpus * DEFAULT_CFS_PERIOD_US // 1_000_000_000
    return max(0, cpu_quota)


def _host_config_int(container: ContainerInfo, key: str) -> int:
    host: Any = container.raw.get("HostConfig") if container.raw else None
    value = host.get(key) if isinstance(host, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def inspect_limits(container: ContainerInfo) -> Limits:
    """The limits of the inspect document alone (a container not sampled yet, or a remote engine)."""
    nano = container.nano_cpus
    quota = inspect_cpu_quota_us(nano, container.cpu_quota, container.cpu_period)
    period = DEFAULT_CFS_PERIOD_US if nano > 0 else (container.cpu_period or DEFAULT_CFS_PERIOD_US)
    return Limits(
        cpu_quota_us=quota,
        cpu_period_us=period,
        cpu_shares=container.cpu_shares or DEFAULT_CPU_SHARES,
        memory_bytes=unlimited_as_zero(max(0, container.memory_limit)) or 0,
        memory_reservation_bytes=_host_config_int(container, "MemoryReservation"),
        memory_swap_bytes=_host_config_int(container, "MemorySwap"),
    )


def effective_limits(container: ContainerInfo, latest: Sample | None) -> Limits:
    """The limits in force: each value from the latest sample's cgroup files when it has one, else from inspect.

    Args:
        container: the container (its inspect-derived fields and raw HostConfig).
        latest: its latest sample, or None when it has not been sampled.
    """
    base = inspect_limits(container)
    if latest is None:
        return base

    def pick(value: int | None, fallback: int) -> int:
        return fallback if value is None else max(0, value)

    return Limits(
        cpu_quota_us=pick(latest.spec_cpu_quota_us, base.cpu_quota_us),
        cpu_period_us=pick(latest.spec_cpu_period_us, base.cpu_period_us) or DEFAULT_CFS_PERIOD_US,
        cpu_shares=pick(latest.spec_cpu_shares, base.cpu_shares),
        memory_bytes=pick(unlimited_as_zero(latest.spec_memory_limit_bytes), base.memory_bytes),
        memory_reservation_bytes=pick(unlimited_as_zero(latest.spec_memory_reservation_bytes),
                                      base.memory_reservation_bytes),
        memory_swap_bytes=pick(unlimited_as_zero(latest.spec_memory_swap_limit_bytes), base.memory_swap_bytes),
    )
