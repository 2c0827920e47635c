"""Autoscaling policies per service group: what a group asks for, as checked data.

A policy says how many replicas a group may have, which metrics drive it and how fast it may
move: the Kubernetes ``HorizontalPodAutoscaler`` spec (``minReplicas``, ``maxReplicas``,
``metrics``, ``behavior``) in a shape a compose file or a TOML file can carry. Reading policies
from the config file and from container labels is ``policy_sources``.

Defaults are Kubernetes' defaults: tolerance 0.1, scale-down window 300 s, scale-up window 0,
scale up by at most max(100 %, 4 pods) per 15 s, scale down by at most 100 % per 15 s.

A bad policy is a ``PolicyError`` with a one-line message naming the group, the source and the
key; callers report it once (``ReportOnce``) and leave that group alone. It never stops anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from observe.errors import ObserveError

LABEL_PREFIX = "observe.autoscale."
METRIC_LABEL_PREFIX = LABEL_PREFIX + "metric."

CPU = "cpu"
CPU_CORES = "cpu_cores"
MEMORY = "memory"
ERROR_RATE = "error_rate"
BUILTIN_METRICS = (CPU, CPU_CORES, MEMORY, ERROR_RATE)

MAX_WINDOW = 3600.0  # Kubernetes' limit on stabilizationWindowSeconds
MAX_PERIOD = 1800.0  # Kubernetes' limit on a policy's periodSeconds


class PolicyError(ObserveError):
    """An autoscaling policy is invalid; the message names the group, where it came from and the key."""

    exit_code = 2


class TargetType(StrEnum):
    """How a metric's target is read, as in the HPA's ``MetricTarget.type``."""

    UTILIZATION = "utilization"  # percent of the replica's limit (Kubernetes: of the request)
    AVERAGE_VALUE = "average_value"  # the metric's value, averaged per replica


class RateType(StrEnum):
    """A rate policy's unit, as in ``HPAScalingPolicy.type``."""

    PODS = "pods"
    PERCENT = "percent"


class SelectPolicy(StrEnum):
    """Which of several rate policies applies, as in ``HPAScalingRules.selectPolicy``."""

    MAX = "max"  # the one allowing the biggest change
    MIN = "min"  # the one allowing the smallest change
    DISABLED = "disabled"  # no scaling in this direction at all


@dataclass(frozen=True, slots=True)
class MetricTarget:
    """One metric that drives a group and the value it should sit at.

    ``name`` is one of ``BUILTIN_METRICS`` or the name of an exported per-container metric.
    """

    name: str
    type: TargetType
    target: float

    @property
    def is_cpu(self) -> bool:
        """CPU samples of starting replicas are set aside, as the HPA does for the cpu resource only."""
        return self.name in (CPU, CPU_CORES)

    @property
    def unit(self) -> str:
        if self.type is TargetType.UTILIZATION:
            return "%"
        return {CPU_CORES: "cores", ERROR_RATE: "lines/s"}.get(self.name, "")

    def show(self, value: float) -> str:
        """``value`` in this metric's unit, for reasons and tables: ``70%``, ``0.5 cores``."""
        unit = self.unit
        text = f"{value:.4g}"
        return text + unit if unit == "%" else f"{text} {unit}".rstrip()


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """At most ``value`` pods, or ``value`` percent of the replicas at the period's start, per ``period`` seconds."""

    type: RateType
    value: int
    period: float

    def __str__(self) -> str:
        return f"{self.type}:{self.value}/{self.period:g}s"


@dataclass(frozen=True, slots=True)
class ScalingRules:
    """One direction's behaviour: stabilisation window (seconds), rate policies and how to pick among them.

    No policies means no rate limit (Kubernetes insists on at least one; we let you say none).
    """

    window: float
    policies: tuple[RatePolicy, ...] = ()
    select: SelectPolicy = SelectPolicy.MAX

    @property
    def longest_period(self) -> float:
        return max((p.period for p in self.policies), default=0.0)


DEFAULT_SCALE_UP = ScalingRules(
    0.0, (RatePolicy(RateType.PERCENT, 100, 15.0), RatePolicy(RateType.PODS, 4, 15.0)), SelectPolicy.MAX
)
DEFAULT_SCALE_DOWN = ScalingRules(300.0, (RatePolicy(RateType.PERCENT, 100, 15.0),), SelectPolicy.MAX)
DEFAULT_TOLERANCE = 0.1


@dataclass(frozen=True, slots=True)
class Policy:
    """A valid autoscaling policy for one service group; construction checks every value.

    Raises:
        PolicyError: a value is out of range (the message names the key).
    """

    service: str
    max_replicas: int
    targets: tuple[MetricTarget, ...]
    min_replicas: int = 1
    tolerance: float = DEFAULT_TOLERANCE
    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise policy_error(self.service, self.source, problem)

    def target(self, name: str) -> MetricTarget | None:
        return next((t for t in self.targets if t.name == name), None)

    def targets_for(self, cpu_limited: bool) -> tuple[MetricTarget, ...]:
        """The targets that drive the group, given whether every replica has a CPU limit.

        With both ``cpu`` and ``cpu_cores`` set, ``cpu`` (utilisation of the limit) is used when
        every replica has a limit and ``cpu_cores`` otherwise; either alone is always used.
        """
        if self.target(CPU) and self.target(CPU_CORES):
            drop = CPU_CORES if cpu_limited else CPU
            return tuple(t for t in self.targets if t.name != drop)
        return self.targets


def _problem(p: Policy) -> str:
    if not p.service:
        return "the group name is empty"
    if p.min_replicas < 1:
        return f"min {p.min_replicas} must be at least 1"
    if p.max_replicas < p.min_replicas:
        return f"max {p.max_replicas} is below min {p.min_replicas}"
    if not p.targets:
        return "no target: set cpu, cpu_cores, memory, error_rate or a metric"
    names = [t.name for t in p.targets]
    if len(set(names)) != len(names):
        return "a metric has two targets"
    for t in p.targets:
        if not (t.target > 0 and math.isfinite(t.target)):
            return f"{t.name} target {t.target:g} must be above zero"
        if t.type is TargetType.UTILIZATION and t.target > 100:
            return f"{t.name} {t.target:g}% cannot exceed 100 (utilisation is measured against the limit)"
    if not 0 <= p.tolerance < 1:
        return f"tolerance {p.tolerance:g} must be at least 0 and below 1"
    for direction, rules in (("scale_up", p.scale_up), ("scale_down", p.scale_down)):
        if not 0 <= rules.window <= MAX_WINDOW:
            return f"{direction}_window {rules.window:g}s must be between 0 and {MAX_WINDOW:g}s"
        for rate in rules.policies:
            if rate.value <= 0:
                return f"{direction}_policies {rate}: the value must be above zero"
            if not 0 < rate.period <= MAX_PERIOD:
                return f"{direction}_policies {rate}: the period must be above 0 and at most {MAX_PERIOD:g}s"
    return ""


def policy_error(service: str, source: str, detail: str) -> PolicyError:
    """The one-line error for a bad policy of ``service`` read from ``source``."""
    where = f" ({source})" if source else ""
    return PolicyError(f"autoscale policy for {service or '?'}{where}: {detail}")
