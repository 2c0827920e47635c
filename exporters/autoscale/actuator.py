"""The actuator for plain Docker: turn a decision into replicas created or removed, or say what it would do.

Only compose-style groups (``com.docker.compose.project`` / ``service`` labels) can be scaled:
a new replica is created like an existing one with the next free container number, and a
scale-down stops (gracefully, with the container's stop timeout) and removes the replicas with
the highest numbers first. The Docker work goes through the core (``create_replica_like``,
``remove_replica``); this module never touches Docker.

Off by default: without ``apply`` every plan is logged (``AutoscaleDryRun``) once per change and
nothing happens. With ``apply``, one change per service is in flight at a time, on a thread of
its own (stopping takes up to the stop timeout); the service is left alone until the inventory
shows the count it was brought to (or ``settle_timeout`` passes), so a decision computed on a
count the engine has not reported yet never acts twice. Each applied change is recorded with
``Autoscaler.record_scale``, which is what the rate policies count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporters.autoscale.decision import Decision
from exporters.autoscale.hpa import Autoscaler
from exporters.autoscale.policy import Policy
from exporters.coreview import ScalingCore
from observe.errors import ObserveError
from observe.model import ContainerInfo

log = logging.getLogger(__name__)

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
SETTLE_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class ScalePlan:
    """What to do to bring a group from ``current`` to ``desired`` replicas.

    ``create`` holds (template container id, new container number) pairs; ``remove`` the
    replicas to stop and remove, newest (highest number) first. ``refused`` says why nothing
    can be done (not a compose group, no template ...); empty when the plan can run.
    """

    service: str
    current: int
    desired: int
    template: str = ""
    create: tuple[tuple[str, int], ...] = ()
    remove: tuple[ContainerInfo, ...] = ()
    refused: str = ""

    def describe(self) -> str:
        if self.refused:
            return f"{self.service}: cannot scale from {self.current} to {self.desired}: {self.refused}"
        if self.create:
            numbers = ", ".join(str(n) for _, n in self.create)
            return (f"{self.service}: scale up from {self.current} to {self.desired}: create "
                    f"{len(self.create)} replica(s) like {self.template} (number {numbers})")
        if self.remove:
            names = ", ".join(c.name for c in self.remove)
            return f"{self.service}: scale down from {self.current} to {self.desired}: stop and remove {names}"
        return f"{self.service}: nothing to do at {self.current} replicas"


def _number(c: ContainerInfo) -> int:
    return c.service.replica if c.service.replica is not None else -1


def plan_scale(decision: Decision, replicas: Sequence[ContainerInfo], group: Sequence[ContainerInfo],
               policy: Policy) -> ScalePlan:
    """The plan for one decision. Pure.

    Args:
        decision: the group's latest decision.
        replicas: the replicas counted in ``decision.current`` (running, paused or restarting).
        group: every container of the group the inventory knows, stopped ones too (their
            numbers and names are taken, so new numbers come after all of them).
        policy: the group's policy; the plan never leaves [min, max].
    """
    current, desired = len(replicas), decision.desired
    base = ScalePlan(decision.service, current, desired)
    if desired == current or not replicas:
        return base
    if not policy.min_replicas <= desired <= policy.max_replicas:
        return ScalePlan(decision.service, current, desired,
                         refused=f"{desired} is outside min {policy.min_replicas} and max {policy.max_replicas}")
    kinds = {c.service.kind for c in replicas}
    if kinds != {"compose"} or not all(c.labels.get(COMPOSE_PROJECT) and c.labels.get(COMPOSE_SERVICE)
                                       for c in replicas):
        kind = ", ".join(sorted(kinds))
        return ScalePlan(decision.service, current, desired,
                         refused=f"only compose services can be scaled here ({kind} group); use the webhook "
                                 "or the command hook to scale it")
    ordered = sorted(replicas, key=lambda c: (_number(c), c.created.timestamp() if c.created else 0.0, c.name))
    if desired < current:
        return ScalePlan(decision.service, current, desired, remove=tuple(reversed(ordered))[: current - desired])
    healthy = [c for c in ordered if c.state == "running" and c.health in ("", "healthy")]
    template = (healthy or ordered)[-1]
    top = max((_number(c) for c in group), default=0)
    top = max(top, max(_number(c) for c in replicas), 0)
    create = tuple((template.id, top + i + 1) for i in range(desired - current))
    return ScalePlan(decision.service, current, desired, template=template.name, create=create)


@dataclass(slots=True)
class _Pending:
    expected: int
    deadline: float
    done: bool = False
    achieved: int | None = None
    errors: list[str] = field(default_factory=list)


class Actuator:
    """Applies plans (or logs them in dry-run), one change in flight per service.

    Args:
        core: where the Docker work happens.
        autoscaler: told about each applied change (``record_scale``).
        apply: False for a dry run.
        monotonic: clock for the settle timeout and the scale events (the autoscaler's clock).
        on_plan: called with every plan that is logged or started (the CLI prints them).
    """

    def __init__(self, core: ScalingCore, autoscaler: Autoscaler, apply: bool = False,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_plan: Callable[[ScalePlan, bool], None] | None = None,
                 settle_timeout: float = SETTLE_TIMEOUT) -> None:
        self.core = core
        self.autoscaler = autoscaler
        self.apply = apply
        self.monotonic = monotonic
        self.on_plan = on_plan
        self.settle_timeout = settle_timeout
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._shown: dict[str, tuple[int, int, str]] = {}
        self._threads: list[threading.Thread] = []

    def busy(self, service: str) -> bool:
        with self._lock:
            return service in self._pending

    def consider(self, decision: Decision, policy: Policy, replicas: Sequence[ContainerInfo],
                 group: Sequence[ContainerInfo]) -> ScalePlan | None:
        """Act on (or log) one decision; returns the plan when something was started or logged."""
        service = decision.service
        if not self._settled(service, len(replicas)):
            return None
        plan = plan_scale(decision, replicas, group, policy)
        if not plan.create and not plan.remove and not plan.refused:
            self._shown.pop(service, None)
            return None
        key = (plan.current, plan.desired, plan.refused)
        if plan.refused or not self.apply:
            if self._shown.get(service) == key:
                return None
            self._shown[service] = key
            event = "AutoscaleRefused" if plan.refused else "AutoscaleDryRun"
            text = plan.describe() if plan.refused else f"dry run: {plan.describe()}"
            log.info(text, extra={"event": event, "service": service, "current": plan.current,
                                  "desired": plan.desired})
            if self.on_plan:
                self.on_plan(plan, False)
            return plan
        self._shown.pop(service, None)
        pending = _Pending(plan.desired, self.monotonic() + self.settle_timeout)
        with self._lock:
            self._pending[service] = pending
            self._threads = [t for t in self._threads if t.is_alive()]
        log.info(plan.describe(), extra={"event": "AutoscaleApplying", "service": service,
                                         "current": plan.current, "desired": plan.desired})
        if self.on_plan:
            self.on_plan(plan, True)
        thread = threading.Thread(target=self._run, args=(plan, policy, pending),
                                  name=f"observe-autoscale-apply-{service}", daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return plan

    def _settled(self, service: str, count: int) -> bool:
        with self._lock:
            pending = self._pending.get(service)
            if pending is None:
                return True
            if not pending.done:
                return False
            target = pending.expected if pending.achieved is None else pending.achieved
            if count == target or self.monotonic() > pending.deadline:
                if count != target:
                    log.warning(f"{service}: the engine still reports {count} replicas, expected {target}",
                                extra={"event": "AutoscaleNotSettled", "service": service})
                del self._pending[service]
                return True
            return False

    def _run(self, plan: ScalePlan, policy: Policy, pending: _Pending) -> None:
        count = plan.current
        errors: list[str] = []
        for template, number in plan.create:
            try:
                self.core.create_replica_like(template, number)
                count += 1
            except ObserveError as err:
                errors.append(str(err))
                break
        for replica in plan.remove:
            try:
                self.core.remove_replica(replica.id, None)
                count -= 1
            except ObserveError as err:
                errors.append(str(err))
                break
        if count != plan.current:
            self.autoscaler.record_scale(policy, plan.current, count, self.monotonic())
        for error in errors:
            log.warning(f"{plan.service}: scaling stopped at {count} replicas: {error}",
                        extra={"event": "AutoscaleApplyFailed", "service": plan.service})
        if not errors:
            log.info(f"{plan.service}: scaled from {plan.current} to {count} replicas",
                     extra={"event": "AutoscaleApplied", "service": plan.service,
                            "current": plan.current, "desired": count})
        with self._lock:
            pending.achieved = count
            pending.errors = errors
            pending.deadline = self.monotonic() + self.settle_timeout
            pending.done = True

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the changes in flight (used at shutdown and by tests)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def describe_state(self) -> dict[str, Any]:
        with self._lock:
            return {s: {"expected": p.expected, "done": p.done, "achieved": p.achieved}
                    for s, p in self._pending.items()}
