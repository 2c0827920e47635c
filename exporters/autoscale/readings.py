"""Replica readings from the core's snapshots: pure functions the evaluation loop (``engine``) calls each round.

A reading is what the sampler and the log counters say of one replica over the window: CPU
seconds, the working set, the limits in force (``observe.stats.limits``), error lines, any
named per-container metric the policy targets, and readiness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from exporters.autoscale.policy import BUILTIN_METRICS
from exporters.autoscale.signals import CounterWindow, ReplicaReading
from exporters.cadvisor import RUNNING
from exporters.metricspec import COUNTER
from observe.model import LEVEL_RANK, ContainerInfo
from observe.stats import ContainerStats, Sample, effective_limits
from observe.telemetry import LogCountersSnapshot

REPLICA_STATES = ("running", "paused", "restarting")
ERROR_RANK = LEVEL_RANK["error"]
_SPECS = {s.name: s for s in RUNNING}


def is_replica(c: ContainerInfo) -> bool:
    """Counted in a group's current replicas: running, paused or restarting (not created, not exited)."""
    return c.state in REPLICA_STATES


def window_start(history: Sequence[Sample], latest: Sample, window: float,
                 value: Callable[[Sample], float | None]) -> Sample | None:
    """The oldest sample within ``window`` seconds before ``latest`` that has a value; None when only ``latest``."""
    cutoff = latest.monotonic - window
    for sample in history:
        if sample.monotonic >= cutoff and sample.monotonic < latest.monotonic and value(sample) is not None:
            return sample
    return None


def counter_window(history: Sequence[Sample], latest: Sample, window: float,
                   value: Callable[[Sample], float | None]) -> CounterWindow | None:
    """A cumulative value read at the window's start and at ``latest`` (monotonic times)."""
    end = value(latest)
    start = window_start(history, latest, window, value)
    if end is None or start is None:
        return None
    first = value(start)
    assert first is not None
    return CounterWindow(start.monotonic, first, latest.monotonic, end)


def _spec_total(name: str, stats: ContainerStats, sample: Sample) -> float | None:
    spec = _SPECS[name]
    series = list(spec.getter(ContainerStats(stats.container, sample, ())))
    return sum(v for _, v in series) if series else None


def metric_value(name: str, stats: ContainerStats | None, window: float) -> float | None:
    """A named per-container metric for one replica: a gauge's latest value, a counter's rate over the window.

    Series with extra labels (interfaces, devices) are summed. ``<name>_per_second`` is the rate of
    the counter ``<name>_total``; a counter's own name is its rate too. None for an unknown name.
    """
    if stats is None:
        return None
    counter = name[: -len("_per_second")] + "_total" if name.endswith("_per_second") else name
    spec = _SPECS.get(counter)
    if spec is not None and spec.type == COUNTER:
        found = counter_window(stats.history, stats.latest, window,
                               lambda s: _spec_total(counter, stats, s))
        return found.rate() if found else None
    if name in _SPECS:
        return _spec_total(name, stats, stats.latest)
    return None


def known_metric(name: str) -> bool:
    """Whether ``metric_value`` can give ``name`` (a builtin target, an exported gauge or counter)."""
    if name in BUILTIN_METRICS or name in _SPECS:
        return True
    return name.endswith("_per_second") and _SPECS.get(name[: -len("_per_second")] + "_total") is not None


def error_lines(counters: LogCountersSnapshot, container_id: str) -> int:
    """Log lines of one container at level error or above, over every stream (a cumulative count)."""
    return sum(n for (cid, level, _), n in counters.lines.items()
               if cid == container_id and LEVEL_RANK.get(level, -1) >= ERROR_RANK)


def reading_for(c: ContainerInfo, stats: ContainerStats | None, errors: Sequence[tuple[float, float]] | None,
                extra: Iterable[str], now: datetime, window: float, readiness_delay: float) -> ReplicaReading:
    """One replica's reading. Pure.

    Args:
        c: the replica.
        stats: its sampler entry (None: not sampled yet).
        errors: (monotonic time, cumulative error lines) points, oldest first; None without a log collector.
        extra: named per-container metrics the policy targets.
        now: wall-clock time, for readiness.
        window: seconds a rate is taken over.
        readiness_delay: seconds after its start before a replica is ready.
    """
    cpu = memory = None
    limits = effective_limits(c, None if stats is None else stats.latest)
    if stats is not None:
        latest = stats.latest
        cpu = counter_window(stats.history, latest, window, lambda s: s.cpu_usage_seconds)
        memory = latest.memory_working_set_bytes
    error_window = None
    if errors and len(errors) >= 2:
        end_time, end = errors[-1]
        start = next(((t, v) for t, v in errors if t >= end_time - window and t < end_time), None)
        if start is not None:
            error_window = CounterWindow(start[0], start[1], end_time, end)
    uptime = c.uptime(now)
    started = c.state in ("running", "paused")
    ready = (c.state == "running" and c.health in ("", "healthy") and uptime is not None
             and uptime >= readiness_delay)
    values = {name: metric_value(name, stats, window) for name in extra}
    return ReplicaReading(name=c.name, cpu_seconds=cpu, working_set_bytes=memory,
                          memory_limit_bytes=limits.memory_bytes, cpu_limit_cores=limits.cpu_cores,
                          error_lines=error_window, extra=values, ready=ready, started=started)


def groups_of(containers: Iterable[ContainerInfo]) -> dict[str, list[ContainerInfo]]:
    """Every selected container by service group name, in the snapshot's order."""
    out: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        out.setdefault(c.service.name, []).append(c)
    return out
