"""The Grafana dashboards, built as plain dicts in the Classic JSON model, and written as the shipped files.

The committed ``dashboards/*.json`` are this module's output (``python -m dashboards.build``
rewrites them; a test fails when they differ). Generating them keeps the four dashboards
consistent: the same variables, the same datasource reference on every panel and target, a
unit on every panel, and one way of narrowing container series to the chosen services.

A new dashboard is one function here returning a ``Dashboard`` (panels from ``dashboards.panels``)
plus its line in ``DASHBOARDS``; ``dashboards.render`` turns it into Grafana's JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from dashboards.panels import (
    CSEL,
    ERROR_LEVELS,
    LOSS_KINDS,
    RATE,
    SEL,
    Dashboard,
    Panel,
    Row,
    Target,
    by_service,
    stat,
    ts,
)
from dashboards.render import render

HERE = Path(__file__).resolve().parent


def host_overview() -> Dashboard:
    cpu = f'sum without (cpu) (rate(container_cpu_usage_seconds_total{{{SEL}}}[{RATE}]))'
    net = (f"sum by (job, instance, id, name) (rate(container_network_receive_bytes_total{{{SEL}}}[{RATE}]) "
           f"+ rate(container_network_transmit_bytes_total{{{SEL}}}[{RATE}]))")
    disk = (f"sum by (job, instance, id, name) (rate(container_fs_reads_bytes_total{{{SEL}}}[{RATE}]) "
            f"+ rate(container_fs_writes_bytes_total{{{SEL}}}[{RATE}]))")
    throttled = (f"rate(container_cpu_cfs_throttled_periods_total{{{SEL}}}[{RATE}]) "
                 f"/ rate(container_cpu_cfs_periods_total{{{SEL}}}[{RATE}])")
    return Dashboard(
        "observe-host", "observe / Host overview",
        "Containers of the chosen hosts and services: states, the top consumers, restarts, OOM kills, throttling.",
        "host-overview.json", ("datasource", "job", "instance", "service"),
        (
            Row("Containers"),
            stat("Running", "Containers in state running.", "none",
                 f'count(observe_container_info{{{SEL}, service=~"$service", state="running"}})'),
            stat("Stopped", "Selected containers that exist but do not run (exited, created, dead).", "none",
                 f'count(observe_container_info{{{SEL}, service=~"$service", state=~"exited|created|dead"}})'),
            stat("Unhealthy", "Containers whose health check fails.", "none",
                 f'count(observe_container_info{{{SEL}, service=~"$service", health="unhealthy"}})'),
            stat("Restarts", "Restarts by the engine over the dashboard's time range.", "none",
                 f"sum({by_service(f'increase(observe_container_restarts_total{{{SEL}}}[$__range])')})"),
            stat("OOM killed", "Stopped containers whose last exit was an OOM kill.", "none",
                 f"count({by_service(f'observe_container_oom_killed{{{SEL}}} == 1')})"),
            stat("Exporter sweep age", "Seconds since the stats sampler last swept every container without "
                 "an error.", "s", f"time() - max(observe_sampler_last_success_timestamp_seconds{{{SEL}}})",
                 no_value=None),
            Row("Top containers"),
            ts("CPU (top 10)", "CPU time per second; 100% is one core.", "percentunit",
               Target(f"topk(10, {by_service(cpu)})", "{{name}}")),
            ts("Memory working set (top 10)", "Memory in use minus inactive page cache: what the OOM killer "
               "counts.", "bytes",
               Target(f"topk(10, {by_service(f'container_memory_working_set_bytes{{{SEL}}}')})", "{{name}}")),
            ts("Network received + sent (top 10)", "Bytes per second over every interface of the container "
               "(lo left out).", "Bps", Target(f"topk(10, {by_service(net)})", "{{name}}")),
            ts("Block I/O read + written (top 10)", "Bytes per second read from and written to block devices.",
               "Bps", Target(f"topk(10, {by_service(disk)})", "{{name}}")),
            Row("Trouble"),
            ts("Restarts", "Restarts by the engine per interval.", "none",
               Target(by_service(f"increase(observe_container_restarts_total{{{SEL}}}[{RATE}])"), "{{name}}"),
               width=8),
            ts("OOM events", "Out-of-memory kills inside running containers per interval.", "none",
               Target(by_service(f"increase(container_oom_events_total{{{SEL}}}[{RATE}])"), "{{name}}"),
               width=8),
            ts("CPU throttling", "Share of CFS periods in which the container was throttled (only containers "
               "with a CPU limit).", "percentunit", Target(by_service(throttled), "{{name}}"), width=8, high=1),
        ),
    )


def container_detail() -> Dashboard:
    cpu = f'sum without (cpu) (rate(container_cpu_usage_seconds_total{{{CSEL}}}[{RATE}]))'
    limit = f"container_spec_cpu_quota{{{CSEL}}} / container_spec_cpu_period{{{CSEL}}}"
    mem = f"container_memory_working_set_bytes{{{CSEL}}}"
    mem_limit = f"container_spec_memory_limit_bytes{{{CSEL}}} > 0"
    return Dashboard(
        "observe-container", "observe / Container detail",
        "One container (or several) of a service: CPU and memory against their limits, network, block I/O, "
        "restarts and log lines by level.",
        "container-detail.json", ("datasource", "job", "instance", "service", "container"),
        (
            Row("State"),
            stat("Uptime", "Time since the container started.", "s",
                 by_service(f"time() - container_start_time_seconds{{{CSEL}}}"), width=6, no_value=None),
            stat("Restarts", "Restarts by the engine over the dashboard's time range.", "none",
                 f"sum({by_service(f'increase(observe_container_restarts_total{{{CSEL}}}[$__range])')})", width=6),
            stat("Memory used of limit", "Working set against the memory limit (containers with a limit only).",
                 "percentunit", f"max({by_service(f'{mem} / ({mem_limit})')})", width=6, no_value=None),
            stat("Processes", "Processes running inside the container.", "none",
                 f"sum({by_service(f'container_processes{{{CSEL}}}')})", width=6),
            Row("Resources"),
            ts("CPU against limit", "Cores in use, and the CPU limit (quota / period) when there is one.", "short",
               Target(by_service(cpu), "{{name}} used"), Target(by_service(limit), "{{name}} limit")),
            ts("CPU throttling", "Share of CFS periods in which the container was throttled.", "percentunit",
               Target(by_service(f"rate(container_cpu_cfs_throttled_periods_total{{{CSEL}}}[{RATE}]) "
                                 f"/ rate(container_cpu_cfs_periods_total{{{CSEL}}}[{RATE}])"), "{{name}}"),
               high=1),
            ts("Memory working set against limit", "Working set (what the OOM killer counts) and the memory limit.",
               "bytes", Target(by_service(mem), "{{name}} working set"),
               Target(by_service(mem_limit), "{{name}} limit")),
            ts("Memory breakdown", "RSS, page cache and swap.", "bytes",
               Target(by_service(f"container_memory_rss{{{CSEL}}}"), "{{name}} rss"),
               Target(by_service(f"container_memory_cache{{{CSEL}}}"), "{{name}} cache"),
               Target(by_service(f"container_memory_swap{{{CSEL}}}"), "{{name}} swap")),
            ts("Network", "Bytes per second received and sent, by interface.", "Bps",
               Target(by_service(f"rate(container_network_receive_bytes_total{{{CSEL}}}[{RATE}])"),
                      "{{name}} {{interface}} received"),
               Target(by_service(f"rate(container_network_transmit_bytes_total{{{CSEL}}}[{RATE}])"),
                      "{{name}} {{interface}} sent")),
            ts("Block I/O", "Bytes per second read and written, by device.", "Bps",
               Target(by_service(f"rate(container_fs_reads_bytes_total{{{CSEL}}}[{RATE}])"),
                      "{{name}} {{device}} read"),
               Target(by_service(f"rate(container_fs_writes_bytes_total{{{CSEL}}}[{RATE}])"),
                      "{{name}} {{device}} written")),
            Row("Restarts and logs"),
            ts("Restarts", "Restarts by the engine per interval.", "none",
               Target(by_service(f"increase(observe_container_restarts_total{{{CSEL}}}[{RATE}])"), "{{name}}")),
            ts("Log lines by level", "Log lines per second collected, by level.", "cps",
               Target(f"sum by (name, level) ({by_service(f'rate(observe_log_lines_total{{{CSEL}}}[{RATE}])')})",
                      "{{name}} {{level}}"), stack=True),
        ),
    )


def logs() -> Dashboard:
    lines = f"rate(observe_log_lines_total{{{CSEL}}}[{RATE}])"
    errors = f'rate(observe_log_lines_total{{{CSEL}, level=~"{ERROR_LEVELS}"}}[{RATE}])'
    losses = f'rate(observe_log_events_total{{{CSEL}, kind=~"{LOSS_KINDS}"}}[{RATE}])'
    sink = f"{{{SEL}}}"
    return Dashboard(
        "observe-logs", "observe / Logs",
        "The log path: volume by level and service, the error ratio, lines truncated or lost, and the sinks.",
        "logs.json", ("datasource", "job", "instance", "service", "container"),
        (
            Row("Volume"),
            ts("Log lines by level", "Lines per second collected, by level.", "cps",
               Target(f"sum by (level) ({by_service(lines)})", "{{level}}"), stack=True),
            ts("Log lines by service", "Lines per second collected, by service group.", "cps",
               Target(f"sum by (service) ({by_service(lines)})", "{{service}}"), stack=True),
            ts("Log bytes by stream", "Bytes per second of log lines, by stream.", "Bps",
               Target(f"sum by (stream) ({by_service(f'rate(observe_log_bytes_total{{{CSEL}}}[{RATE}])')})",
                      "{{stream}}"), stack=True),
            ts("Error ratio by service", "Share of lines at level error, critical or fatal.", "percentunit",
               Target(f"sum by (service) ({by_service(errors)}) / sum by (service) ({by_service(lines)})",
                      "{{service}}"), high=1),
            Row("Problems"),
            ts("Truncated, invalid and lost lines", "Lines cut at --max-line-bytes, with invalid UTF-8, dropped, "
               "lost, or JSON that failed to parse; per second, by kind.", "cps",
               Target(f"sum by (kind) ({by_service(losses)})", "{{kind}}")),
            ts("Log events by kind", "Everything counted on log lines (also partial lines joined and JSON parsed), "
               "per second.", "cps",
               Target(f"sum by (kind) ({by_service(f'rate(observe_log_events_total{{{CSEL}}}[{RATE}])')})",
                      "{{kind}}")),
            Row("Sinks"),
            ts("Records delivered", "Records per second each sink's destination confirmed, and sent again "
               "(possibly received twice).", "cps",
               Target(f"rate(observe_sink_confirmed_total{sink}[{RATE}])", "{{sink}} confirmed"),
               Target(f"rate(observe_sink_resent_total{sink}[{RATE}])", "{{sink}} resent"), width=8),
            ts("Failures and retries", "Writes per second that failed or were retried.", "cps",
               Target(f"rate(observe_sink_failed_total{sink}[{RATE}])", "{{sink}} failed"),
               Target(f"rate(observe_sink_retried_total{sink}[{RATE}])", "{{sink}} retried"), width=8),
            ts("Connected", "1 while the sink is connected to its destination.", "bool",
               Target(f"observe_sink_connected{sink}", "{{sink}}"), width=8, high=1),
            ts("Queue fill", "Batches waiting in the sink's queue, against its size: a full queue holds the "
               "readers back.", "percentunit",
               Target(f"observe_sink_queue_depth{sink} / observe_sink_queue_capacity{sink}", "{{sink}}"), high=1),
            ts("Lag", "Seconds since the sink last accepted a batch.", "s",
               Target(f"time() - observe_sink_last_success_timestamp_seconds{sink}", "{{sink}}")),
        ),
    )


def autoscaling() -> Dashboard:
    svc = f'{{{SEL}, service=~"$service"}}'
    return Dashboard(
        "observe-autoscale", "observe / Autoscaling",
        "Replica recommendations per service group: current against desired, each metric against its target, "
        "and the rule that held a decision back.",
        "autoscaling.json", ("datasource", "job", "instance", "autoscale_service"),
        (
            Row("Replicas"),
            ts("Current and desired replicas", "Running replicas, the replicas the policy recommends (desired), what "
               "the metrics alone ask for before stabilisation and rate limits (recommended), and min/max.", "none",
               Target(f"observe_autoscale_current_replicas{svc}", "{{service}} current"),
               Target(f"observe_autoscale_desired_replicas{svc}", "{{service}} desired"),
               Target(f"observe_autoscale_recommended_replicas{svc}", "{{service}} recommended"),
               Target(f"observe_autoscale_min_replicas{svc}", "{{service}} min"),
               Target(f"observe_autoscale_max_replicas{svc}", "{{service}} max")),
            ts("Desired minus current", "Replicas to add (positive) or remove (negative) to follow the "
               "recommendation.", "none",
               Target(f"observe_autoscale_desired_replicas{svc} - observe_autoscale_current_replicas{svc}",
                      "{{service}}"), low=None),
            Row("Metrics"),
            ts("Metric against target", "Each policy metric's per-replica value and its target, in the metric's "
               "own unit (cpu and memory: percent of the limit; cpu_cores: cores; error_rate: lines/s).", "short",
               Target(f"observe_autoscale_metric_value{svc}", "{{service}} {{metric}}"),
               Target(f"observe_autoscale_metric_target{svc}", "{{service}} {{metric}} target")),
            ts("Metric / target", "Value divided by target: above 1 asks for more replicas, below 1 for fewer.",
               "percentunit",
               Target(f"observe_autoscale_metric_value{svc} / observe_autoscale_metric_target{svc}",
                      "{{service}} {{metric}}")),
            Row("Decisions"),
            Panel("state-timeline", "What held the decision back", "The rule that kept the desired replicas from "
                  "what the metrics asked for (tolerance, stabilization window, rate policy, min/max ...); "
                  "'none' when nothing did.", "bool",
                  (Target(f"observe_autoscale_limited{svc} == 1", "{{service}} {{reason}}"),), width=24,
                  options={"mergeValues": True, "showValue": "never", "alignValue": "left", "rowHeight": 0.9,
                           "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
                           "tooltip": {"mode": "single", "sort": "none"}}),
        ),
    )


DASHBOARDS = (host_overview, container_detail, logs, autoscaling)


def rendered() -> dict[str, str]:
    """File name -> JSON text of every dashboard, exactly as committed."""
    return {d.file: json.dumps(render(d), indent=2, ensure_ascii=False) + "\n" for d in (f() for f in DASHBOARDS)}


def write(directory: Path = HERE) -> list[Path]:
    """Write every dashboard's JSON into ``directory``; returns the paths written."""
    out = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":
    write()
