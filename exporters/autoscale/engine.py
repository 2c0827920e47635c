"""The evaluation loop: from the core's snapshots to one decision per service group, every interval.

Each round (``AutoscaleEngine.evaluate``) reads only what the core already published: the stats
sampler's snapshot (containers, per-container sample history) and the log counters. It

1. groups the selected containers by service group; a group's replicas are its running,
   paused and restarting containers;
2. resolves the policies: the config file's ``[autoscale."<group>"]`` tables (re-read when the
   file changes) win over the replicas' ``observe.autoscale.*`` labels; a bad policy is logged
   once as a one-line warning (``AutoscalePolicyInvalid``) and that group is left alone;
   groups without a policy are not evaluated;
3. builds each replica's reading: CPU seconds over the last ``window`` seconds of the
   sampler's history, the latest working set, the limits, error-and-above log lines over the
   window (the engine keeps its own short history of the cumulative counters), any other
   named per-container metric (a gauge's latest value, a counter's rate: ``<name>_total`` or
   ``<name>_per_second``), and readiness (running, healthy or without healthcheck, and
   started at least ``readiness_delay`` ago);
4. runs the ``Autoscaler`` and keeps the latest ``Decision`` per service;
5. notifies the hooks when a service's desired count changes (and on its first decision);
6. hands the decision to the actuator (which acts only with ``apply``, else logs a dry run).

``start()`` runs rounds on a thread of its own; the CLI calls ``evaluate()`` itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from exporters.autoscale.actuator import Actuator, ScalePlan
from exporters.autoscale.decision import Decision
from exporters.autoscale.hooks import Hooks
from exporters.autoscale.hpa import Autoscaler
from exporters.autoscale.policy import BUILTIN_METRICS, ERROR_RATE, Policy, PolicyError
from exporters.autoscale.policy_sources import ReportOnce, read_policies, resolve_policies
from exporters.autoscale.readings import error_lines, groups_of, is_replica, known_metric, reading_for
from exporters.autoscale.report import autoscale_document, decision_document
from exporters.autoscale.signals import replicas_for
from exporters.coreview import ScalingCore, ScrapeSource
from observe.config import Config
from observe.errors import ObserveError
from observe.model import ContainerInfo
from observe.stats import StatsSnapshot
from observe.telemetry import LogCountersSnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AutoscaleOptions:
    """How the loop runs; ``from_config`` reads the ``autoscale_*`` options.

    Attributes:
        interval: seconds between rounds (0: the sampling interval).
        window: seconds of history a rate is taken over.
        readiness_delay: a replica started this recently is not ready (CPU samples set aside).
        apply: really scale compose groups (else a dry run).
        webhook, command: the hooks ("" for none).
        policy_file: the TOML file holding ``[autoscale."<group>"]`` tables ("" for none).
    """

    interval: float = 0.0
    window: float = 30.0
    readiness_delay: float = 30.0
    apply: bool = False
    webhook: str = ""
    command: str = ""
    policy_file: str = ""

    @classmethod
    def from_config(cls, config: Config, apply: bool | None = None) -> AutoscaleOptions:
        return cls(
            interval=float(config.autoscale_interval) or float(config.interval),
            window=float(config.autoscale_window),
            readiness_delay=float(config.autoscale_readiness_delay),
            apply=bool(config.autoscale_apply) if apply is None else apply,
            webhook=str(config.autoscale_webhook),
            command=str(config.autoscale_command),
            policy_file=str(config.config_file or ""),
        )


class AutoscaleCore(ScrapeSource, ScalingCore, Protocol):
    """What a round reads (the snapshots) and what the actuator calls (the scaling verbs)."""


# ---- the loop --------------------------------------------------------------------------


class AutoscaleEngine:
    """Evaluates every policy each round and keeps the latest decision per service. Thread-safe to read.

    Args:
        core: the core, read through ``sampler``, ``log_counters`` and ``collecting`` and scaled
            through ``create_replica_like``/``remove_replica`` (``exporters.coreview``).
        options: see ``AutoscaleOptions``.
        clock: wall clock (decision times, readiness).
        monotonic: the autoscaler's clock (windows, rates, scale events).
        on_decision: called on the loop's thread with each decision whose desired count changed.
        on_plan: called with each scale plan logged or started (the CLI prints them).
    """

    def __init__(self, core: AutoscaleCore, options: AutoscaleOptions, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_decision: Callable[[Decision], None] | None = None,
                 on_plan: Callable[[ScalePlan, bool], None] | None = None) -> None:
        self.core = core
        self.options = options
        self.clock = clock
        self.monotonic = monotonic
        self.on_decision = on_decision
        self.autoscaler = Autoscaler()
        self.actuator = Actuator(core, self.autoscaler, options.apply, monotonic, on_plan)
        self.hooks = Hooks(options.webhook, options.command)
        self.rounds = 0
        self._lock = threading.Lock()
        self._decisions: dict[str, Decision] = {}
        self._errors: list[str] = []
        self._report = ReportOnce()
        self._reported_other: set[str] = set()
        self._file_policies: dict[str, Policy | None] = {}
        self._file_stamp: tuple[float, int] | None = None
        self._errors_file: list[PolicyError] = []
        self._error_points: dict[str, deque[tuple[float, float]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading ---------------------------------------------------------------------------
    def decisions(self) -> list[Decision]:
        """The latest decision of every service that has a policy, by service name."""
        with self._lock:
            return [self._decisions[k] for k in sorted(self._decisions)]

    def decision(self, service: str) -> Decision | None:
        with self._lock:
            return self._decisions.get(service)

    def errors(self) -> list[str]:
        """The policy problems of the last round (each logged once when it appeared)."""
        with self._lock:
            return list(self._errors)

    def document(self) -> dict[str, Any]:
        """The ``/autoscale`` JSON document."""
        return autoscale_document(self.decisions(), self.errors(), self.clock())

    # -- one round -------------------------------------------------------------------------
    def _load_file(self) -> None:
        path = self.options.policy_file
        if not path:
            return
        try:
            st = os.stat(path)
            stamp = (st.st_mtime, st.st_size)
        except OSError:
            stamp = None
        if stamp == self._file_stamp and stamp is not None:
            return
        try:
            self._file_policies, self._errors_file = read_policies(path)
            self._file_stamp = stamp
        except ObserveError as err:
            self._warn_once(str(err), "AutoscalePolicyFileInvalid")

    def _warn_once(self, message: str, event: str) -> None:
        if message not in self._reported_other:
            self._reported_other.add(message)
            log.warning(message, extra={"event": event})

    def evaluate(self) -> list[Decision]:
        """One round over the core's current snapshots; returns this round's decisions."""
        snap: StatsSnapshot = self.core.sampler.snapshot()
        counters = self.core.log_counters.snapshot() if self.core.collecting else None
        mono, wall = self.monotonic(), self.clock()
        now = datetime.fromtimestamp(wall, UTC)
        self._load_file()

        groups = groups_of(snap.containers)
        replicas = {name: [c for c in members if is_replica(c)] for name, members in groups.items()}
        label_sets = {name: [c.labels for c in members] for name, members in replicas.items() if members}
        policies, label_errors = resolve_policies(label_sets, self._file_policies)
        problems = [*self._errors_file, *label_errors]
        for err in self._report.fresh(problems):
            log.warning(str(err), extra={"event": "AutoscalePolicyInvalid"})
        self._track_errors(counters, snap.containers, mono)

        decisions: list[Decision] = []
        for service in sorted(policies):
            policy = policies[service]
            extra = [t.name for t in policy.targets if t.name not in BUILTIN_METRICS]
            for name in extra:
                if not known_metric(name):
                    self._warn_once(f"autoscale policy for {service}: {name} is not a per-container metric we "
                                    "export; it has no samples", "AutoscaleUnknownMetric")
            if counters is None and policy.target(ERROR_RATE):
                self._warn_once(f"autoscale policy for {service}: error_rate needs the log collector "
                                "(observe run); it has no samples here", "AutoscaleNoLogCollector")
            members = replicas.get(service, [])
            readings = [
                reading_for(c, snap.get(c.id), self._error_points.get(c.id) if counters is not None else None,
                            extra, now, self.options.window, self.options.readiness_delay)
                for c in members
            ]
            targets, hpa_replicas = replicas_for(policy, readings)
            decision = replace(self.autoscaler.evaluate(policy, hpa_replicas, mono, targets), time=wall)
            decisions.append(decision)
            self._publish(decision)
            self.actuator.consider(decision, policy, members, groups.get(service, []))

        gone = set(self.autoscaler.services()) - set(policies)
        for service in gone:
            self.autoscaler.forget(service)
        with self._lock:
            for service in set(self._decisions) - set(policies):
                del self._decisions[service]
            self._errors = [str(e) for e in problems]
            self.rounds += 1
        return decisions

    def _track_errors(self, counters: LogCountersSnapshot | None, containers: Sequence[ContainerInfo],
                      mono: float) -> None:
        if counters is None:
            return
        live = {c.id for c in containers if is_replica(c)}
        for cid in list(self._error_points):
            if cid not in live:
                del self._error_points[cid]
        keep = self.options.window + 2 * max(self.options.interval, 1.0)
        for cid in live:
            points = self._error_points.setdefault(cid, deque())
            points.append((mono, float(error_lines(counters, cid))))
            while points and points[0][0] < mono - keep:
                points.popleft()

    def _publish(self, decision: Decision) -> None:
        with self._lock:
            previous = self._decisions.get(decision.service)
            self._decisions[decision.service] = decision
        if previous is not None and previous.desired == decision.desired:
            return
        log.info(f"{decision.service}: desired {decision.desired} replicas ({decision.reason})",
                 extra={"event": "AutoscaleDecision", "service": decision.service, "current": decision.current,
                        "desired": decision.desired, "limited": str(decision.limited)})
        self.hooks.notify(decision_document(decision))
        if self.on_decision is not None:
            self.on_decision(decision)

    # -- running ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run a round every ``options.interval`` seconds on a thread of its own until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="observe-autoscale", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.options.interval or 1.0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.evaluate()
            except Exception:  # a bug in one round must not end autoscaling; it is logged with its trace
                log.exception("autoscale round failed", extra={"event": "AutoscaleRoundFailed"})
            self._stop.wait(max(0.05, interval - (time.monotonic() - started)))

    def stop(self, timeout: float = 30.0) -> None:
        """End the loop, wait for changes in flight and deliver queued hook notices."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.actuator.join(timeout)
        self.hooks.stop()
