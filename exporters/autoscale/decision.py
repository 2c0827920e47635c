"""What the HPA algorithm (``hpa``) takes and gives, as frozen data: replicas in, a ``Decision`` out.

Kept apart from the algorithm so that the exporter's metric table, the JSON documents and the
actuator can read decisions without the algorithm's machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from exporters.autoscale.policy import MetricTarget


class Limit(StrEnum):
    """Which rule held a decision back from what the metrics asked for (machine-readable)."""

    NONE = "none"
    TOLERANCE = "tolerance"
    MISSING_METRICS = "missing_metrics"
    SCALE_UP_WINDOW = "scale_up_window"
    SCALE_DOWN_WINDOW = "scale_down_window"
    SCALE_UP_RATE = "scale_up_rate"
    SCALE_DOWN_RATE = "scale_down_rate"
    SCALE_UP_DISABLED = "scale_up_disabled"
    SCALE_DOWN_DISABLED = "scale_down_disabled"
    MIN = "min"
    MAX = "max"
    NO_REPLICAS = "no_replicas"


@dataclass(frozen=True, slots=True)
class Replica:
    """One replica's samples, by metric name (absent or None: no sample this round).

    ``started`` False is Kubernetes' Pending: created or restarting, not running yet; set aside
    for every metric. ``ready`` False is a running replica whose CPU samples are not to be
    trusted yet (healthcheck ``starting`` or failing, or within its initialisation period); set
    aside for CPU metrics only.
    """

    name: str
    values: Mapping[str, float | None] = field(default_factory=dict)
    ready: bool = True
    started: bool = True


@dataclass(frozen=True, slots=True)
class ScaleEvent:
    """A change of the replica count that was applied: ``change`` > 0 added, < 0 removed."""

    time: float
    change: int


@dataclass(frozen=True, slots=True)
class History:
    """What the algorithm remembers of a service: raw recommendations and applied scale events."""

    recommendations: tuple[tuple[float, int], ...] = ()
    events: tuple[ScaleEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One metric's part of a decision.

    ``value`` is the average over the replicas whose samples were used (what the HPA reports,
    before any conservative recomputation); ``proposal`` is None when no replica had a usable
    sample (the metric is invalid this round); ``held`` says why the proposal stayed at the
    current count although the ratio was not exactly 1 (tolerance or missing samples).
    """

    target: MetricTarget
    value: float | None
    ratio: float | None
    proposal: int | None
    samples: int
    missing: int
    unready: int
    held: Limit = Limit.NONE

    @property
    def name(self) -> str:
        return self.target.name

    def describe(self) -> str:
        if self.value is None:
            return f"{self.name} has no sample from a ready replica"
        t = self.target
        return f"{t.name} {t.show(self.value)} against a target of {t.show(t.target)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.name,
            "type": str(self.target.type),
            "target": self.target.target,
            "value": self.value,
            "ratio": self.ratio,
            "proposal": self.proposal,
            "samples": self.samples,
            "missing": self.missing,
            "unready": self.unready,
            "held": str(self.held),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What a group should run now and why.

    ``recommendation`` is the largest metric proposal (None when none was usable) and
    ``recorded`` whether it entered the stabilisation history; ``driver`` names the metric that
    gave it; ``limited`` is the rule that held ``desired`` back from it (``Limit.NONE`` when
    nothing did) and ``reason`` says the same for people.
    """

    service: str
    time: float
    current: int
    desired: int
    min_replicas: int
    max_replicas: int
    recommendation: int | None
    metrics: tuple[MetricResult, ...]
    driver: str | None
    limited: Limit
    reason: str
    recorded: bool = False

    @property
    def change(self) -> int:
        return self.desired - self.current

    def metric(self, name: str) -> MetricResult | None:
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "time": self.time,
            "current_replicas": self.current,
            "desired_replicas": self.desired,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "recommendation": self.recommendation,
            "driver": self.driver,
            "limited": str(self.limited),
            "reason": self.reason,
            "metrics": [m.to_dict() for m in self.metrics],
        }
