"""Every exported metric, defined as data: one row per metric (name, help, type, unit, labels, getter).

The ``container_*`` rows copy cAdvisor's names, types, units and label conventions
(``metrics/prometheus.go``) so that dashboards and alerts written for cAdvisor work unchanged;
the ``observe_*`` rows are what cAdvisor lacks. A getter returns the series of one item as
``(extra label values, value)`` pairs; it returns nothing when the host cannot provide the
value, so the series is absent rather than a made-up zero.

Each table holds rows over one kind of item: ``RUNNING`` over a running container's stats (the
cAdvisor families, in ``exporters/cadvisor.py`` with ``MACHINE`` and ``VERSION``),
``CONTAINERS`` over every selected container, ``LOGS`` over log counters, ``SINKS`` over sink
statuses, ``SAMPLER`` over the sampler's health, ``AUTOSCALE`` over autoscaling decisions
(one per service group with a policy; item label ``service``; exposed by its own collector
when autoscaling runs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from exporters.autoscale.decision import Decision, Limit
from exporters.cadvisor import MACHINE, RUNNING, VERSION, health_state
from exporters.metricspec import COUNTER, GAUGE, MetricSpec, Series, one
from observe.model import ContainerInfo
from observe.stats import SamplerHealth
from observe.telemetry import SinkStatus

__all__ = ["ALL_SPECS", "AUTOSCALE", "CONTAINERS", "COUNTER", "GAUGE", "LOGS", "LOG_FLAGS", "MACHINE", "RUNNING",
           "SAMPLER", "SCRAPE", "SINKS", "VERSION", "LogFlagSeries", "LogSeries", "MetricSpec", "health_state"]

@dataclass(frozen=True, slots=True)
class LogSeries:
    """Log counters of one container, level and stream."""

    container: ContainerInfo
    level: str
    stream: str
    lines: int
    bytes: int


@dataclass(frozen=True, slots=True)
class LogFlagSeries:
    """How often one thing happened to one container's log lines (truncated, invalid UTF-8 ...)."""

    container: ContainerInfo
    kind: str
    count: int


def _exit_code(c: ContainerInfo) -> Iterable[Series]:
    return one(c.exit_code) if c.state in ("exited", "dead") else []


def _oom_killed(c: ContainerInfo) -> Iterable[Series]:
    if c.state not in ("exited", "dead"):
        return []
    state = c.raw.get("State") or {}
    return one(1 if state.get("OOMKilled") else 0)


CONTAINERS: tuple[MetricSpec[ContainerInfo], ...] = (
    MetricSpec("observe_container_info", "Container metadata; always 1. Selected containers, running or not.",
               GAUGE, "", ("state", "health", "service", "service_kind", "image_id"),
               lambda c: [((c.state, c.health, c.service.name, c.service.kind, c.image_id), 1.0)]),
    MetricSpec("observe_container_restarts_total", "Times the engine restarted the container (RestartCount).",
               COUNTER, "", (), lambda c: one(c.restart_count)),
    MetricSpec("observe_container_exit_code", "Exit code of the container's last exit; only for stopped "
               "containers.", GAUGE, "", (), _exit_code),
    MetricSpec("observe_container_oom_killed", "1 when the container's last exit was an OOM kill; only for "
               "stopped containers.", GAUGE, "", (), _oom_killed),
)

LOGS: tuple[MetricSpec[LogSeries], ...] = (
    MetricSpec("observe_log_lines_total", "Log lines collected, by level and stream.", COUNTER, "",
               ("level", "stream"), lambda r: [((r.level, r.stream), float(r.lines))]),
    MetricSpec("observe_log_bytes_total", "Bytes of log lines collected, by level and stream.", COUNTER, "bytes",
               ("level", "stream"), lambda r: [((r.level, r.stream), float(r.bytes))]),
)

LOG_FLAGS: tuple[MetricSpec[LogFlagSeries], ...] = (
    MetricSpec("observe_log_events_total", "Things that happened to log lines (truncated, invalid_utf8, dropped, "
               "lost, partial_joined, json_parsed, json_failed, json_lenient, fields_overflow, blank_dropped).",
               COUNTER, "", ("kind",),
               lambda r: [((r.kind,), float(r.count))]),
)

SINKS: tuple[MetricSpec[SinkStatus], ...] = (
    MetricSpec("observe_sink_written_total", "Records handed to the destination (for tcp and syslog: written to "
               "the kernel).", COUNTER, "", (), lambda s: one(s.written)),
    MetricSpec("observe_sink_confirmed_total", "Records the destination confirmed (Fluentd ack, the peer's TCP "
               "acknowledgement, a file write); only these move the checkpoints.", COUNTER, "", (),
               lambda s: one(s.confirmed)),
    MetricSpec("observe_sink_unconfirmed", "Records written and not confirmed yet.", GAUGE, "", (),
               lambda s: one(s.unconfirmed)),
    MetricSpec("observe_sink_resent_total", "Records sent again after a reconnect or a failed write (possibly "
               "received twice).", COUNTER, "", (), lambda s: one(s.resent)),
    MetricSpec("observe_sink_failed_total", "Writes or connection checks that failed.", COUNTER, "", (),
               lambda s: one(s.failed)),
    MetricSpec("observe_sink_retried_total", "Writes retried.", COUNTER, "", (), lambda s: one(s.retried)),
    MetricSpec("observe_sink_disconnects_total", "Times the sink lost its destination (SinkDisconnected).",
               COUNTER, "", (), lambda s: one(s.disconnects)),
    MetricSpec("observe_sink_truncated_total", "Records cut to the sink's max_record_bytes (log.truncated).",
               COUNTER, "", (), lambda s: one(s.truncated)),
    MetricSpec("observe_sink_dropped_total", "Records this sink did not deliver in this run, by reason; their "
               "positions were not saved, so the next start reads them again.", COUNTER, "", ("reason",),
               lambda s: [((reason,), float(n)) for reason, n in sorted(s.dropped.items())]),
    MetricSpec("observe_sink_queue_depth", "Batches waiting in the sink's queue.", GAUGE, "", (),
               lambda s: one(s.queue_depth)),
    MetricSpec("observe_sink_queue_capacity", "Batches the sink's queue holds.", GAUGE, "", (),
               lambda s: one(s.queue_capacity)),
    MetricSpec("observe_sink_connected", "1 when the sink is connected to its destination.", GAUGE, "", (),
               lambda s: one(1 if s.connected else 0)),
    MetricSpec("observe_sink_last_success_timestamp_seconds", "Unix time of the last accepted batch.", GAUGE,
               "seconds", (), lambda s: one(s.last_success) if s.last_success > 0 else []),
)

SAMPLER: tuple[MetricSpec[SamplerHealth], ...] = (
    MetricSpec("container_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise",
               GAUGE, "", (), lambda h: one(1 if h.last_sweep_errors else 0) if h.sweeps else []),
    MetricSpec("observe_sampler_info", "The stats backend in use (cgroup files or the engine API); always 1.",
               GAUGE, "", ("backend",), lambda h: [((h.backend,), 1.0)] if h.backend else []),
    MetricSpec("observe_sampler_up", "1 while the stats sampler runs.", GAUGE, "", (),
               lambda h: one(1 if h.running else 0)),
    MetricSpec("observe_sampler_interval_seconds", "Time between two sweeps of the sampler.", GAUGE, "seconds", (),
               lambda h: one(h.interval)),
    MetricSpec("observe_sampler_sweeps_total", "Sweeps over all containers done so far.", COUNTER, "", (),
               lambda h: one(h.sweeps)),
    MetricSpec("observe_sampler_errors_total", "Container reads that failed.", COUNTER, "", (),
               lambda h: one(h.errors)),
    MetricSpec("observe_sampler_sweep_duration_seconds", "Duration of the last sweep.", GAUGE, "seconds", (),
               lambda h: one(h.last_sweep_seconds)),
    MetricSpec("observe_sampler_last_success_timestamp_seconds", "Unix time of the last sweep in which every read "
               "succeeded.", GAUGE, "seconds", (), lambda h: one(h.last_success)),
)

SCRAPE: tuple[MetricSpec[float], ...] = (
    MetricSpec("observe_exporter_scrape_duration_seconds", "Time the exposition took to build (once per sweep; "
               "scrapes serve the bytes built).",
               GAUGE, "seconds", (), lambda seconds: one(seconds)),
)



def _metric_values(d: Decision) -> Iterable[Series]:
    return [((m.name,), m.value) for m in d.metrics if m.value is not None]


AUTOSCALE: tuple[MetricSpec[Decision], ...] = (
    MetricSpec("observe_autoscale_current_replicas", "Replicas the service group runs now (running, paused or "
               "restarting).", GAUGE, "", (), lambda d: one(d.current)),
    MetricSpec("observe_autoscale_desired_replicas", "Replicas the service group should run, as the Kubernetes HPA "
               "algorithm decides from its policy.", GAUGE, "", (), lambda d: one(d.desired)),
    MetricSpec("observe_autoscale_recommended_replicas", "Replicas the metrics alone ask for, before stabilisation, "
               "rate policies and min/max; absent when no metric had a usable sample.", GAUGE, "", (),
               lambda d: one(d.recommendation)),
    MetricSpec("observe_autoscale_min_replicas", "The policy's minimum replicas.", GAUGE, "", (),
               lambda d: one(d.min_replicas)),
    MetricSpec("observe_autoscale_max_replicas", "The policy's maximum replicas.", GAUGE, "", (),
               lambda d: one(d.max_replicas)),
    MetricSpec("observe_autoscale_metric_value", "A metric's average over the ready replicas with a sample, in the "
               "target's unit (percent of the limit, cores, lines per second, or the metric's own).", GAUGE, "",
               ("metric",), _metric_values),
    MetricSpec("observe_autoscale_metric_target", "A metric's target per replica, in the same unit as "
               "observe_autoscale_metric_value.", GAUGE, "", ("metric",),
               lambda d: [((m.name,), m.target.target) for m in d.metrics]),
    MetricSpec("observe_autoscale_limited", "1 for the rule that held the desired count back from what the metrics "
               "ask for (reason=\"none\" when nothing did), 0 for the others.", GAUGE, "", ("reason",),
               lambda d: [((str(limit),), 1.0 if d.limited is limit else 0.0) for limit in Limit]),
)

ALL_SPECS: tuple[MetricSpec[Any], ...] = (*RUNNING, *MACHINE, *VERSION, *CONTAINERS, *LOGS, *LOG_FLAGS, *SINKS,
                                          *SAMPLER, *SCRAPE)
"""What ``Exposition`` exposes; ``AUTOSCALE`` joins it when autoscaling runs."""
