"""The Kubernetes HPA algorithm, as its controller runs it, on plain data.

``decide`` is pure: a policy, the group's replicas with their per-metric samples and
readiness, the time, and the history of recent recommendations and scale events in; a
``Decision`` out. ``Autoscaler`` keeps that history per service (the only state the algorithm
needs) and is what the exporter will call on every sampling round.

The steps follow ``pkg/controller/podautoscaler`` (``replica_calculator.go`` and ``horizontal.go``):

1. Per metric (``metric_proposal``): average the samples of the replicas that have one and are
   ready, ``ratio = average / target``. Starting replicas (not yet running) are set aside for
   every metric; running but not-ready replicas are set aside for CPU metrics only, as the HPA
   does for the cpu resource. With nothing set aside: no change while ``|ratio - 1| <=
   tolerance``, else ``ceil(ratio x replicas with samples)``. Otherwise recompute
   conservatively: on a scale-down replicas without a sample count as using 100 % of their
   limit (utilisation metrics) or the target (average-value metrics), on a scale-up as 0, and
   on a scale-up the set-aside replicas count as 0; if the recomputed ratio is within the
   tolerance or points the other way, no change, else ``ceil(new ratio x replicas counted)``.
2. Across metrics: the largest proposal. If no metric has a usable sample, or some have none
   and the rest would scale down, no change (``missing_metrics``).
3. A group whose replica count is outside [min, max] goes straight to the bound.
4. Stabilisation: the recommendation is brought within [lowest recommendation in the scale-up
   window, highest in the scale-down window], starting from the current count; the raw
   recommendation is recorded.
5. Rate policies: the replicas at the start of each policy's period are the current count minus
   the replicas added plus those removed within the period (from the recorded scale events);
   ``pods`` allows that plus or minus the value, ``percent`` ``ceil(start x (1 + v/100))`` up or
   ``int(start x (1 - v/100))`` down; ``select`` max/min picks the most/least permissive,
   ``disabled`` forbids that direction. Then min and max.

Differences from Kubernetes, on purpose: samples are floats, and the proposal is rounded to
nine decimals before ``ceil`` so that float noise (0.1 x 3) does not add a replica, where
Kubernetes truncates to whole percents and milli-units; utilisation is the mean of the
replicas' percentages (Kubernetes: total usage over total requests; the same when the replicas
share their limits); a policy may have no rate policy at all (no limit); and the readiness
subtleties of the CPU initialisation period are the adapter's to fold into ``Replica.ready``.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Sequence

from exporters.autoscale.decision import Decision, History, Limit, MetricResult, Replica, ScaleEvent
from exporters.autoscale.policy import MetricTarget, Policy, RateType, ScalingRules, SelectPolicy, TargetType

UNBOUNDED = sys.maxsize


def _ceil(x: float) -> int:
    return math.ceil(round(x, 9))


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def metric_proposal(target: MetricTarget, replicas: Sequence[Replica], tolerance: float) -> MetricResult:
    """The replica count one metric asks for (replica_calculator.go), the current count when held."""
    current = len(replicas)
    samples: list[float] = []
    missing = unready = 0
    for replica in replicas:
        if not replica.started:
            unready += 1
            continue
        value = replica.values.get(target.name)
        if value is None or not math.isfinite(value):
            missing += 1
            continue
        if target.is_cpu and not replica.ready:
            unready += 1
            continue
        samples.append(float(value))
    if not samples:
        return MetricResult(target, None, None, None, 0, missing, unready)
    value = _mean(samples)
    ratio = value / target.target

    def result(proposal: int, held: Limit = Limit.NONE) -> MetricResult:
        return MetricResult(target, value, ratio, proposal, len(samples), missing, unready, held)

    rebalance_unready = unready > 0 and ratio > 1.0
    if not rebalance_unready and missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return result(current, Limit.TOLERANCE if ratio != 1.0 else Limit.NONE)
        return result(_ceil(ratio * len(samples)))

    counted = list(samples)
    if missing:
        if ratio < 1.0:
            fallback = max(100.0, target.target) if target.type is TargetType.UTILIZATION else target.target
            counted += [fallback] * missing
        elif ratio > 1.0:
            counted += [0.0] * missing
    if rebalance_unready:
        counted += [0.0] * unready
    new_ratio = _mean(counted) / target.target
    held = Limit.TOLERANCE if abs(1.0 - ratio) <= tolerance else Limit.MISSING_METRICS
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return result(current, held)
    proposal = _ceil(new_ratio * len(counted))
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return result(current, held)
    if proposal == current != _ceil(ratio * len(samples)):
        return result(current, Limit.MISSING_METRICS)
    return result(proposal)


def stabilize(recommendation: int, current: int, now: float, history: History, policy: Policy) -> int:
    """Bring the recommendation within [lowest in the scale-up window, highest in the scale-down window].

    Starts from the current count, so a window only ever holds a change back, never adds one.
    A recommendation exactly ``window`` seconds old is outside the window.
    """
    up_cutoff = now - policy.scale_up.window
    down_cutoff = now - policy.scale_down.window
    up = down = recommendation
    for when, value in history.recommendations:
        if when > up_cutoff:
            up = min(up, value)
        if when > down_cutoff:
            down = max(down, value)
    result = current
    if result < up:
        result = up
    if result > down:
        result = down
    return result


def _period_start(current: int, events: Sequence[ScaleEvent], period: float, now: float) -> int:
    cutoff = now - period
    added = sum(e.change for e in events if e.change > 0 and e.time > cutoff)
    removed = sum(-e.change for e in events if e.change < 0 and e.time > cutoff)
    return current - added + removed


def scale_up_limit(current: int, events: Sequence[ScaleEvent], rules: ScalingRules, now: float) -> int:
    """The most replicas the scale-up policies allow now (``calculateScaleUpLimitWithScalingRules``)."""
    if rules.select is SelectPolicy.DISABLED:
        return current
    if not rules.policies:
        return UNBOUNDED
    proposals = []
    for rate in rules.policies:
        start = _period_start(current, events, rate.period, now)
        if rate.type is RateType.PODS:
            proposals.append(start + rate.value)
        else:
            proposals.append(math.ceil(start * (1 + rate.value / 100)))
    return min(proposals) if rules.select is SelectPolicy.MIN else max(proposals)


def scale_down_limit(current: int, events: Sequence[ScaleEvent], rules: ScalingRules, now: float) -> int:
    """The fewest replicas the scale-down policies allow now (``calculateScaleDownLimitWithBehaviors``)."""
    if rules.select is SelectPolicy.DISABLED:
        return current
    if not rules.policies:
        return -UNBOUNDED
    proposals = []
    for rate in rules.policies:
        start = _period_start(current, events, rate.period, now)
        if rate.type is RateType.PODS:
            proposals.append(start - rate.value)
        else:
            proposals.append(int(start * (1 - rate.value / 100)))
    return max(proposals) if rules.select is SelectPolicy.MIN else min(proposals)


def limit_rate(desired: int, current: int, now: float, history: History, policy: Policy) -> tuple[int, Limit]:
    """Apply the rate policies, then min and max (``convertDesiredReplicasWithBehaviorRate``)."""
    if desired > current:
        limit = max(scale_up_limit(current, history.events, policy.scale_up, now), current)
        if policy.max_replicas > limit:
            allowed = limit
            why = Limit.SCALE_UP_DISABLED if policy.scale_up.select is SelectPolicy.DISABLED else Limit.SCALE_UP_RATE
        else:
            allowed, why = policy.max_replicas, Limit.MAX
        if desired > allowed:
            return allowed, why
    elif desired < current:
        limit = min(scale_down_limit(current, history.events, policy.scale_down, now), current)
        if policy.min_replicas < limit:
            allowed = limit
            disabled = policy.scale_down.select is SelectPolicy.DISABLED
            why = Limit.SCALE_DOWN_DISABLED if disabled else Limit.SCALE_DOWN_RATE
        else:
            allowed, why = policy.min_replicas, Limit.MIN
        if desired < allowed:
            return allowed, why
    return desired, Limit.NONE


def decide(
    policy: Policy,
    replicas: Sequence[Replica],
    now: float,
    history: History | None = None,
    targets: Sequence[MetricTarget] | None = None,
) -> Decision:
    """The HPA's decision for one group: how many replicas it should run now, and why.

    Args:
        policy: the group's policy.
        replicas: every replica of the group (the current count is their number).
        now: the time in seconds (any epoch, the same as the history's).
        history: the group's recent recommendations and applied scale events (none when None).
        targets: the metrics to use (``Policy.targets_for``); the policy's targets when None.

    Returns:
        The decision; ``recorded`` says whether ``recommendation`` belongs in the history.
    """
    history = history or History()
    current = len(replicas)
    used = tuple(policy.targets if targets is None else targets)
    results = tuple(metric_proposal(t, replicas, policy.tolerance) for t in used)

    def decision(desired: int, limited: Limit, reason: str, recommendation: int | None = None,
                 driver: str | None = None, recorded: bool = False) -> Decision:
        return Decision(policy.service, now, current, desired, policy.min_replicas, policy.max_replicas,
                        recommendation, results, driver, limited, reason, recorded)

    if current == 0:
        return decision(0, Limit.NO_REPLICAS, "no running replica: nothing to measure or scale from")
    if current > policy.max_replicas:
        return decision(policy.max_replicas, Limit.MAX,
                        f"scale down to max {policy.max_replicas}: {current} replicas run")
    if current < policy.min_replicas:
        return decision(policy.min_replicas, Limit.MIN,
                        f"scale up to min {policy.min_replicas}: {current} replicas run")

    valid = [r for r in results if r.proposal is not None]
    invalid = [r for r in results if r.proposal is None]
    if not valid:
        names = ", ".join(r.name for r in invalid) or "no metric"
        return decision(current, Limit.MISSING_METRICS, f"no change: no usable sample for {names}")
    recommendation = max(r.proposal for r in valid if r.proposal is not None)
    top = [r for r in valid if r.proposal == recommendation]
    driver = next((r for r in top if r.held is Limit.NONE), top[0])
    if invalid and recommendation < current:
        names = ", ".join(r.name for r in invalid)
        return decision(current, Limit.MISSING_METRICS,
                        f"no change: {driver.describe()} asks for {recommendation}, "
                        f"but {names} has no usable sample, so no scale-down",
                        recommendation, driver.name)

    stabilized = stabilize(recommendation, current, now, history, policy)
    desired, rate_limit = limit_rate(stabilized, current, now, history, policy)
    asks = f"{driver.describe()} asks for {recommendation}"
    if desired != stabilized:
        limited = rate_limit
        reason = _limited_text(limited, desired, stabilized, policy, asks)
    elif stabilized != recommendation:
        if recommendation > current:
            limited = Limit.SCALE_UP_WINDOW
            reason = (f"held at {desired}: {asks}, but the lowest recommendation within the "
                      f"{policy.scale_up.window:g}s scale-up window wins")
        else:
            limited = Limit.SCALE_DOWN_WINDOW
            reason = (f"held at {desired}: {asks}, but the highest recommendation within the "
                      f"{policy.scale_down.window:g}s scale-down window wins")
    elif desired == current and driver.held is not Limit.NONE:
        limited = driver.held
        if limited is Limit.TOLERANCE:
            reason = f"no change: {driver.describe()} is within the tolerance {policy.tolerance:g}"
        else:
            reason = (f"no change: {driver.describe()}, but counting the {driver.missing + driver.unready} "
                      f"replicas without a usable sample conservatively leaves too small a change")
    else:
        limited = Limit.NONE
        if desired > current:
            reason = f"scale up to {desired}: {asks}"
        elif desired < current:
            reason = f"scale down to {desired}: {asks}"
        else:
            reason = f"no change: {driver.describe()}"
    return decision(desired, limited, reason, recommendation, driver.name, recorded=True)


def _limited_text(limited: Limit, desired: int, wanted: int, policy: Policy, asks: str) -> str:
    if limited is Limit.MAX:
        return f"limited to max {desired}: {asks}"
    if limited is Limit.MIN:
        return f"limited to min {desired}: {asks}"
    if limited is Limit.SCALE_UP_DISABLED:
        return f"held at {desired}: {asks}, but scaling up is disabled"
    if limited is Limit.SCALE_DOWN_DISABLED:
        return f"held at {desired}: {asks}, but scaling down is disabled"
    rules = policy.scale_up if limited is Limit.SCALE_UP_RATE else policy.scale_down
    direction = "up" if limited is Limit.SCALE_UP_RATE else "down"
    rates = ", ".join(str(p) for p in rules.policies)
    return (f"limited to {desired} on the way to {wanted}: {asks}, "
            f"and the scale-{direction} policies ({rates}, select {rules.select}) allow {desired} now")


class Autoscaler:
    """Runs ``decide`` per service and keeps each service's history, as the HPA controller does.

    The first evaluation of a service records its current count as a recommendation (so a
    fresh start does not scale down before the window has passed). Scale events are only what
    ``record_scale`` is told: the actuator calls it after it applied a change. History older
    than the longest window or policy period is dropped. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: dict[str, History] = {}

    def evaluate(
        self,
        policy: Policy,
        replicas: Sequence[Replica],
        now: float,
        targets: Sequence[MetricTarget] | None = None,
    ) -> Decision:
        """Decide for ``policy.service`` and remember the recommendation (see ``decide``)."""
        service = policy.service
        with self._lock:
            history = self._history.get(service)
            if history is None:
                history = History(recommendations=((now, len(replicas)),))
            history = _prune(history, policy, now)
            decision = decide(policy, replicas, now, history, targets)
            if decision.recorded and decision.recommendation is not None:
                history = History((*history.recommendations, (now, decision.recommendation)), history.events)
            self._history[service] = history
            return decision

    def record_scale(self, policy: Policy, previous: int, new: int, now: float) -> None:
        """Remember that the group was scaled from ``previous`` to ``new`` replicas at ``now``."""
        if new == previous:
            return
        with self._lock:
            history = self._history.get(policy.service, History())
            history = History(history.recommendations, (*history.events, ScaleEvent(now, new - previous)))
            self._history[policy.service] = _prune(history, policy, now)

    def history(self, service: str) -> History:
        with self._lock:
            return self._history.get(service, History())

    def forget(self, service: str) -> None:
        """Drop a service's history (its policy or its group is gone)."""
        with self._lock:
            self._history.pop(service, None)

    def services(self) -> list[str]:
        with self._lock:
            return sorted(self._history)


def _prune(history: History, policy: Policy, now: float) -> History:
    keep_recs = now - max(policy.scale_up.window, policy.scale_down.window)
    keep_events = now - max(policy.scale_up.longest_period, policy.scale_down.longest_period)
    return History(
        tuple(r for r in history.recommendations if r[0] > keep_recs),
        tuple(e for e in history.events if e.time > keep_events),
    )
