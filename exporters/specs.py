"""Every exported metric, defined as data: one row per metric (name, help, type, unit, labels, getter).

The ``container_*`` rows copy cAdvisor's names, types, units and label conventions
(``metrics/prometheus.go``) so that dashboards and alerts written for cAdvisor work unchanged;
the ``observe_*`` rows are what cAdvisor lacks. A getter returns the series of one item as
``(extra label values, value)`` pairs; it returns nothing when the host cannot provide the
value, so the series is absent rather than a made-up zero.

Each table holds rows over one kind of item: ``RUNNING`` over a running container's stats,
``CONTAINERS`` over every selected container, ``LOGS`` over log counters, ``SINKS`` over sink
statuses, ``SAMPLER`` over the sampler's health, ``AUTOSCALE`` over autoscaling decisions
(one per service group with a policy; item label ``service``; exposed by its own collector
when autoscaling runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from exporters.autoscale.decision import Decision, Limit
from observe.model import ContainerInfo
from observe.stats import ContainerStats, Sample, SamplerHealth
from observe.telemetry import SinkStatus

T = TypeVar("T")
Series = tuple[tuple[str, ...], float]
COUNTER, GAUGE, UNTYPED = "counter", "gauge", "unknown"


@dataclass(frozen=True, slots=True)
class MetricSpec(Generic[T]):
    """One metric. ``name`` is the name as exposed (counters end in ``_total``); ``labels`` are the
    labels beyond the per-item ones (for containers: ``id``, ``name``, ``image``, allowlisted labels)."""

    name: str
    help: str
    type: str
    unit: str
    labels: tuple[str, ...]
    getter: Callable[[T], Iterable[Series]]


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


def _one(value: float | int | None) -> list[Series]:
    return [] if value is None else [((), float(value))]


def _sample(fn: Callable[[Sample], float | int | None]) -> Callable[[ContainerStats], Iterable[Series]]:
    return lambda s: _one(fn(s.latest))


def _cfs(fn: Callable[[Sample], float | int | None]) -> Callable[[ContainerStats], Iterable[Series]]:
    """CFS series exist only for containers with a CPU quota, as in cAdvisor."""
    return lambda s: _one(fn(s.latest)) if s.limits.cpu_quota_us > 0 else []


def _cpu_quota(s: ContainerStats) -> Iterable[Series]:
    quota = s.limits.cpu_quota_us
    return _one(quota) if quota > 0 else []


def _net(attr: str) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        return [((n.interface,), float(getattr(n, attr))) for n in s.latest.network or ()]

    return get


def _disk(attr: str) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        return [((d.device,), float(getattr(d, attr))) for d in s.latest.block_io or ()]

    return get


def health_state(health: str) -> int:
    """cAdvisor's ``container_health_state``: 1 healthy, 0 starting or unhealthy, -1 no healthcheck."""
    if health == "healthy":
        return 1
    if health in ("starting", "unhealthy"):
        return 0
    return -1


def _timestamp(fn: Callable[[ContainerInfo], object]) -> Callable[[ContainerStats], Iterable[Series]]:
    def get(s: ContainerStats) -> Iterable[Series]:
        value = fn(s.container)
        return _one(value.timestamp()) if hasattr(value, "timestamp") else []

    return get


RUNNING: tuple[MetricSpec[ContainerStats], ...] = (
    MetricSpec("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", COUNTER, "seconds",
               ("cpu",), lambda s: [] if s.latest.cpu_usage_seconds is None
               else [(("total",), s.latest.cpu_usage_seconds)]),
    MetricSpec("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", COUNTER,
               "seconds", (), _sample(lambda x: x.cpu_user_seconds)),
    MetricSpec("container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", COUNTER,
               "seconds", (), _sample(lambda x: x.cpu_system_seconds)),
    MetricSpec("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", COUNTER, "",
               (), _cfs(lambda x: x.cpu_cfs_periods)),
    MetricSpec("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", COUNTER, "",
               (), _cfs(lambda x: x.cpu_cfs_throttled_periods)),
    MetricSpec("container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.",
               COUNTER, "seconds", (), _cfs(lambda x: x.cpu_cfs_throttled_seconds)),
    MetricSpec("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of "
               "when it was accessed", GAUGE, "bytes", (), _sample(lambda x: x.memory_usage_bytes)),
    MetricSpec("container_memory_working_set_bytes", "Current working set in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_working_set_bytes)),
    MetricSpec("container_memory_rss", "Size of RSS in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_rss_bytes)),
    MetricSpec("container_memory_cache", "Number of bytes of page cache memory.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_cache_bytes)),
    MetricSpec("container_memory_swap", "Container swap usage in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_swap_bytes)),
    MetricSpec("container_memory_mapped_file", "Size of memory mapped files in bytes.", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_mapped_file_bytes)),
    MetricSpec("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", GAUGE, "bytes", (),
               _sample(lambda x: x.memory_max_usage_bytes)),
    # cAdvisor types this a counter, but its name lacks _total, which the Python client cannot emit for a
    # counter: it stays untyped under cAdvisor's exact name so existing queries keep working.
    MetricSpec("container_memory_failcnt", "Number of memory usage hits limits (a cumulative count).", UNTYPED, "",
               (), _sample(lambda x: x.memory_failcnt)),
    MetricSpec("container_oom_events_total", "Count of out of memory events observed for the container", COUNTER,
               "", (), _sample(lambda x: x.oom_events)),
    MetricSpec("container_spec_memory_limit_bytes", "Memory limit for the container (0: no limit).", GAUGE, "bytes",
               (), lambda s: _one(s.limits.memory_bytes)),
    MetricSpec("container_spec_cpu_quota", "CPU quota of the container (microseconds per period).", GAUGE, "", (),
               _cpu_quota),
    MetricSpec("container_spec_cpu_period", "CPU period of the container (microseconds).", GAUGE, "", (),
               lambda s: _one(s.limits.cpu_period_us)),
    MetricSpec("container_spec_cpu_shares", "CPU share of the container.", GAUGE, "", (),
               lambda s: _one(s.limits.cpu_shares)),
    MetricSpec("container_network_receive_bytes_total", "Cumulative count of bytes received", COUNTER, "bytes",
               ("interface",), _net("rx_bytes")),
    MetricSpec("container_network_receive_packets_total", "Cumulative count of packets received", COUNTER, "",
               ("interface",), _net("rx_packets")),
    MetricSpec("container_network_receive_errors_total", "Cumulative count of errors encountered while receiving",
               COUNTER, "", ("interface",), _net("rx_errors")),
    MetricSpec("container_network_receive_packets_dropped_total",
               "Cumulative count of packets dropped while receiving", COUNTER, "", ("interface",), _net("rx_dropped")),
    MetricSpec("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", COUNTER, "bytes",
               ("interface",), _net("tx_bytes")),
    MetricSpec("container_network_transmit_packets_total", "Cumulative count of packets transmitted", COUNTER, "",
               ("interface",), _net("tx_packets")),
    MetricSpec("container_network_transmit_errors_total",
               "Cumulative count of errors encountered while transmitting", COUNTER, "", ("interface",),
               _net("tx_errors")),
    MetricSpec("container_network_transmit_packets_dropped_total",
               "Cumulative count of packets dropped while transmitting", COUNTER, "", ("interface",),
               _net("tx_dropped")),
    MetricSpec("container_fs_reads_bytes_total", "Cumulative count of bytes read", COUNTER, "bytes", ("device",),
               _disk("read_bytes")),
    MetricSpec("container_fs_writes_bytes_total", "Cumulative count of bytes written", COUNTER, "bytes",
               ("device",), _disk("write_bytes")),
    MetricSpec("container_fs_reads_total", "Cumulative count of reads completed", COUNTER, "", ("device",),
               _disk("reads")),
    MetricSpec("container_fs_writes_total", "Cumulative count of writes completed", COUNTER, "", ("device",),
               _disk("writes")),
    MetricSpec("container_processes", "Number of processes running inside the container.", GAUGE, "", (),
               _sample(lambda x: x.processes)),
    MetricSpec("container_threads", "Number of threads running inside the container", GAUGE, "", (),
               _sample(lambda x: x.threads)),
    MetricSpec("container_threads_max", "Maximum number of threads allowed inside the container, infinity if "
               "value is zero", GAUGE, "", (), _sample(lambda x: x.threads_max)),
    MetricSpec("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", GAUGE,
               "seconds", (), _timestamp(lambda c: c.started_at or c.created)),
    MetricSpec("container_creation_time_seconds", "Creation time of the container since unix epoch in seconds.",
               GAUGE, "seconds", (), _timestamp(lambda c: c.created)),
    MetricSpec("container_last_seen", "Last time a container was seen by the exporter", GAUGE, "", (),
               lambda s: _one(s.latest.time)),
    MetricSpec("container_health_state", "The result of the container's health check (1 healthy, 0 starting or "
               "unhealthy, -1 no healthcheck)", GAUGE, "", (), lambda s: _one(health_state(s.container.health))),
)


def _exit_code(c: ContainerInfo) -> Iterable[Series]:
    return _one(c.exit_code) if c.state in ("exited", "dead") else []


def _oom_killed(c: ContainerInfo) -> Iterable[Series]:
    if c.state not in ("exited", "dead"):
        return []
    state = c.raw.get("State") or {}
    return _one(1 if state.get("OOMKilled") else 0)


CONTAINERS: tuple[MetricSpec[ContainerInfo], ...] = (
    MetricSpec("observe_container_info", "Container metadata; always 1. Selected containers, running or not.",
               GAUGE, "", ("state", "health", "service", "service_kind", "image_id"),
               lambda c: [((c.state, c.health, c.service.name, c.service.kind, c.image_id), 1.0)]),
    MetricSpec("observe_container_restarts_total", "Times the engine restarted the container (RestartCount).",
               COUNTER, "", (), lambda c: _one(c.restart_count)),
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
               "the kernel).", COUNTER, "", (), lambda s: _one(s.written)),
    MetricSpec("observe_sink_confirmed_total", "Records the destination confirmed (Fluentd ack, the peer's TCP "
               "acknowledgement, a file write); only these move the checkpoints.", COUNTER, "", (),
               lambda s: _one(s.confirmed)),
    MetricSpec("observe_sink_unconfirmed", "Records written and not confirmed yet.", GAUGE, "", (),
               lambda s: _one(s.unconfirmed)),
    MetricSpec("observe_sink_resent_total", "Records sent again after a reconnect or a failed write (possibly "
               "received twice).", COUNTER, "", (), lambda s: _one(s.resent)),
    MetricSpec("observe_sink_failed_total", "Writes or connection checks that failed.", COUNTER, "", (),
               lambda s: _one(s.failed)),
    MetricSpec("observe_sink_retried_total", "Writes retried.", COUNTER, "", (), lambda s: _one(s.retried)),
    MetricSpec("observe_sink_disconnects_total", "Times the sink lost its destination (SinkDisconnected).",
               COUNTER, "", (), lambda s: _one(s.disconnects)),
    MetricSpec("observe_sink_truncated_total", "Records cut to the sink's max_record_bytes (log.truncated).",
               COUNTER, "", (), lambda s: _one(s.truncated)),
    MetricSpec("observe_sink_dropped_total", "Records this sink did not deliver in this run, by reason; their "
               "positions were not saved, so the next start reads them again.", COUNTER, "", ("reason",),
               lambda s: [((reason,), float(n)) for reason, n in sorted(s.dropped.items())]),
    MetricSpec("observe_sink_queue_depth", "Batches waiting in the sink's queue.", GAUGE, "", (),
               lambda s: _one(s.queue_depth)),
    MetricSpec("observe_sink_queue_capacity", "Batches the sink's queue holds.", GAUGE, "", (),
               lambda s: _one(s.queue_capacity)),
    MetricSpec("observe_sink_connected", "1 when the sink is connected to its destination.", GAUGE, "", (),
               lambda s: _one(1 if s.connected else 0)),
    MetricSpec("observe_sink_last_success_timestamp_seconds", "Unix time of the last accepted batch.", GAUGE,
               "seconds", (), lambda s: _one(s.last_success) if s.last_success > 0 else []),
)

SAMPLER: tuple[MetricSpec[SamplerHealth], ...] = (
    MetricSpec("observe_sampler_info", "The stats backend in use (cgroup files or the engine API); always 1.",
               GAUGE, "", ("backend",), lambda h: [((h.backend,), 1.0)] if h.backend else []),
    MetricSpec("observe_sampler_up", "1 while the stats sampler runs.", GAUGE, "", (),
               lambda h: _one(1 if h.running else 0)),
    MetricSpec("observe_sampler_interval_seconds", "Time between two sweeps of the sampler.", GAUGE, "seconds", (),
               lambda h: _one(h.interval)),
    MetricSpec("observe_sampler_sweeps_total", "Sweeps over all containers done so far.", COUNTER, "", (),
               lambda h: _one(h.sweeps)),
    MetricSpec("observe_sampler_errors_total", "Container reads that failed.", COUNTER, "", (),
               lambda h: _one(h.errors)),
    MetricSpec("observe_sampler_sweep_duration_seconds", "Duration of the last sweep.", GAUGE, "seconds", (),
               lambda h: _one(h.last_sweep_seconds)),
    MetricSpec("observe_sampler_last_success_timestamp_seconds", "Unix time of the last sweep in which every read "
               "succeeded.", GAUGE, "seconds", (), lambda h: _one(h.last_success)),
)

SCRAPE: tuple[MetricSpec[float], ...] = (
    MetricSpec("observe_exporter_scrape_duration_seconds", "Time this scrape took to build the metrics above.",
               GAUGE, "seconds", (), lambda seconds: _one(seconds)),
)



def _metric_values(d: Decision) -> Iterable[Series]:
    return [((m.name,), m.value) for m in d.metrics if m.value is not None]


AUTOSCALE: tuple[MetricSpec[Decision], ...] = (
    MetricSpec("observe_autoscale_current_replicas", "Replicas the service group runs now (running, paused or "
               "restarting).", GAUGE, "", (), lambda d: _one(d.current)),
    MetricSpec("observe_autoscale_desired_replicas", "Replicas the service group should run, as the Kubernetes HPA "
               "algorithm decides from its policy.", GAUGE, "", (), lambda d: _one(d.desired)),
    MetricSpec("observe_autoscale_recommended_replicas", "Replicas the metrics alone ask for, before stabilisation, "
               "rate policies and min/max; absent when no metric had a usable sample.", GAUGE, "", (),
               lambda d: _one(d.recommendation)),
    MetricSpec("observe_autoscale_min_replicas", "The policy's minimum replicas.", GAUGE, "", (),
               lambda d: _one(d.min_replicas)),
    MetricSpec("observe_autoscale_max_replicas", "The policy's maximum replicas.", GAUGE, "", (),
               lambda d: _one(d.max_replicas)),
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

ALL_SPECS: tuple[MetricSpec[Any], ...] = (*RUNNING, *CONTAINERS, *LOGS, *LOG_FLAGS, *SINKS, *SAMPLER, *SCRAPE)
"""What ``ObserveCollector`` exposes; ``AUTOSCALE`` is exposed by ``DecisionCollector`` next to it."""
