"""The container queries of the common cAdvisor dashboards, against a real Prometheus scraping ``observe run``.

The queries are written here as data, each under its dashboard's name: the panels of grafana.com
14282 "Cadvisor exporter", 893 "Docker and system monitoring", 179 "Docker Prometheus Monitoring",
dockprom's "Docker Containers", "Docker Host" and "Monitor Services", and the Grafana docker-mixin
"Docker overview" that read only cAdvisor's series (``container_*``, ``machine_*``, the root
cgroup); their node_exporter panels are not ours to answer. Template variables are filled with
what matches everything (``.+``), the ranges with ``1m``.

Every query must return series, with observe's defaults (no ``--label-allowlist``: the default
allowlist is what makes the compose and dockprom group filters work). Block I/O is excused where
this host's blkio cgroup counts nothing (tests/core/stats/test_cgroup.py proves those readers on
fixture trees); the test says so when it excuses one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.dashboards.test_live_prometheus import Prom, get, host_lacks, stop
from tests.support.nethelpers import free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.engine,
              pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed")]
SECOND = 1_000_000_000
BURN = "dd if=/dev/zero of=/tmp/layer bs=64k count=16 2>/dev/null; while :; do :; done"

BLKIO = ("container_fs_reads_bytes_total", "container_fs_writes_bytes_total")
C14282 = 'instance=~".+",name=~".+"'
DASHBOARDS: dict[str, list[str]] = {
    "grafana.com 14282 Cadvisor exporter": [
        f"sum(rate(container_cpu_usage_seconds_total{{{C14282}}}[1m])) by (name) * 100",
        f"sum(container_memory_rss{{{C14282}}}) by (name)",
        f"sum(container_memory_cache{{{C14282}}}) by (name)",
        f"sum(container_memory_usage_bytes{{{C14282}}}) by (name)",
        f"sum(rate(container_network_receive_bytes_total{{{C14282}}}[1m])) by (name)",
        f"sum(rate(container_network_transmit_bytes_total{{{C14282}}}[1m])) by (name)",
        f"(time() - container_start_time_seconds{{{C14282}}}) / 86400",
        "container_last_seen{name=~\".+\",container_label_com_docker_compose_service=~\".+\"}",
        "cadvisor_version_info",
    ],
    "grafana.com 893 Docker and system monitoring": [
        'sum(rate(container_cpu_usage_seconds_total{image!=""}[1m])) by (name)',
        'sum(rate(container_network_receive_bytes_total{image!=""}[1m])) by (name)',
        'sum(rate(container_network_transmit_bytes_total{image!=""}[1m])) by (name)',
        'sum(container_memory_rss{image!=""}) by (name)',
        'sum(container_memory_swap{image!=""}) by (name)',
        'sum(container_memory_usage_bytes{image!=""}) by (name)',
        'sum(container_spec_memory_limit_bytes{image!=""} - container_memory_usage_bytes{image!=""}) by (name)',
        'count(container_last_seen{image!=""})',
    ],
    "grafana.com 179 Docker Prometheus Monitoring": [
        'count(rate(container_last_seen{id=~"/docker/.+|/system.slice/docker-.+"}[1m]))',
        'sum(rate(container_cpu_user_seconds_total{image!=""}[1m]) * 100)',
        'sum(rate(container_cpu_system_seconds_total{image!=""}[1m]) * 100)',
        'sum(container_memory_usage_bytes{image!=""})',
        'sum(container_memory_usage_bytes{id="/"})',
        "machine_memory_bytes",
        'sum(container_fs_limit_bytes{id="/"} - container_fs_usage_bytes{id="/"})',
        'sum(container_fs_usage_bytes{id="/"}) / sum(container_fs_limit_bytes{id="/"})',
        'sum(rate(container_fs_reads_bytes_total{image!=""}[1m])) by (name)',
        'sum(rate(container_fs_writes_bytes_total{image!=""}[1m])) by (name)',
    ],
    "dockprom Docker Containers": [
        'sum(rate(container_cpu_user_seconds_total{image!="",container_label_org_label_schema_group=""}[1m]) * 100)',
        'sum(container_memory_usage_bytes{image!="",container_label_org_label_schema_group=""})',
        'count(container_last_seen{image!="",container_label_org_label_schema_group=""})',
        'sum(rate(container_cpu_usage_seconds_total{name=~".+"}[1m])) by (name) * 100',
        'sum(container_memory_rss{name=~".+"}) by (name)',
        'sum(container_memory_cache{name=~".+"}) by (name)',
        'sum(rate(container_network_receive_bytes_total{name=~".+"}[1m])) by (name)',
        'sum(rate(container_network_transmit_bytes_total{name=~".+"}[1m])) by (name)',
        'sum(container_fs_usage_bytes{name=~".+"}) by (name)',
    ],
    "dockprom Docker Host": [
        "machine_cpu_cores",
        'sum(rate(container_cpu_usage_seconds_total{id="/"}[1m])) / sum(machine_cpu_cores) * 100',
        'container_memory_usage_bytes{id="/"} / on(instance) group_left machine_memory_bytes',
    ],
    "dockprom Monitor Services": [
        'sum(rate(container_cpu_user_seconds_total{container_label_org_label_schema_group="monitoring"}[1m]) '
        '* 100) by (name)',
        'sum(container_memory_rss{container_label_org_label_schema_group="monitoring"}) by (name)',
        'sum(container_memory_cache{container_label_org_label_schema_group="monitoring"}) by (name)',
        'count(container_last_seen{container_label_org_label_schema_group="monitoring"})',
        'sum(rate(container_network_receive_bytes_total{container_label_org_label_schema_group="monitoring"}'
        '[1m])) by (name)',
    ],
    "Grafana docker-mixin Docker overview": [
        'count(container_last_seen{job=~".+",instance=~".+",name=~".+"})',
        'sum(rate(container_cpu_usage_seconds_total{job=~".+",name=~".+"}[1m])) by (name) '
        '/ on() group_left sum(machine_cpu_cores)',
        'sum(container_memory_usage_bytes{job=~".+",name=~".+"}) by (name)',
        'sum(container_memory_working_set_bytes{job=~".+",name=~".+"}) by (name)',
        'sum(container_spec_memory_reservation_limit_bytes{job=~".+",name=~".+"}) by (name)',
        'sum(container_spec_memory_swap_limit_bytes{job=~".+",name=~".+"}) by (name)',
        'sum(container_memory_usage_bytes{job=~".+",name=~".+"}) / sum(machine_memory_bytes)',
        'sum(rate(container_cpu_cfs_throttled_periods_total{name=~".+"}[1m])) by (name) '
        '/ sum(rate(container_cpu_cfs_periods_total{name=~".+"}[1m])) by (name)',
        'sum(rate(container_network_receive_bytes_total{name=~".+"}[1m])) by (name)',
        'sum(rate(container_network_transmit_packets_total{name=~".+"}[1m])) by (name)',
        'sum(rate(container_fs_reads_bytes_total{name=~".+"}[1m])) by (name)',
        'sum(rate(container_fs_writes_bytes_total{name=~".+"}[1m])) by (name)',
        'sum(container_fs_usage_bytes{name=~".+"}) by (name)',
        'sum(container_fs_limit_bytes{name=~".+"}) by (name)',
        'sum(container_tasks_state{name=~".+",state="sleeping"}) by (name)',
        'sum(rate(container_memory_failures_total{name=~".+",failure_type="pgfault",scope="container"}[1m])) '
        "by (name)",
        "container_scrape_error",
    ],
}


@pytest.fixture
def prom(containers: Containers, tmp_path: Path) -> Iterator[tuple[Prom, dict[str, str]]]:
    project = f"obs{containers.test_id}"
    compose = {"com.docker.compose.project": project, "com.docker.compose.service": "web"}
    web = containers.run("web-1", BURN, labels={**compose, "com.docker.compose.container-number": "1"},
                         network_mode="host", nano_cpus=SECOND // 10, mem_limit="64m", mem_reservation="32m")
    containers.run("web-2", BURN, labels={**compose, "com.docker.compose.container-number": "2"},
                   nano_cpus=SECOND // 10)
    containers.run("prometheus-like", "while :; do sleep 1; done", network_mode="host",
                   labels={"org.label-schema.group": "monitoring"})
    observe_port, prom_port = free_port(), free_port()
    log = open(tmp_path / "observe.log", "wb")  # noqa: SIM115 - closed when the process is stopped
    observe = subprocess.Popen(
        [sys.executable, "-m", "observe", "run", "--name", containers.name("*"), "--listen",
         f"127.0.0.1:{observe_port}", "--interval", "1s", "--sink", f"file://{tmp_path}/records.ndjson",
         "--state-dir", str(tmp_path / "state")], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: cadvisor\n"
                      f"    static_configs:\n      - targets: ['127.0.0.1:{observe_port}']\n")
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed when the process is stopped
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        p = Prom(prom_port)

        def has(expr: str) -> bool:
            answer = get(f"http://127.0.0.1:{prom_port}/api/v1/query?query={urllib.parse.quote(expr)}")
            return bool(answer and answer.get("status") == "success" and answer["data"]["result"])

        wait_for(lambda: has('count_over_time(observe_sampler_up{job="cadvisor"}[1m]) >= 8'),
                 "Prometheus to hold 8 scrapes of observe run", timeout=90, interval=1)
        wait_for(lambda: has('container_fs_usage_bytes{name=~".+"} > 0'),
                 "the writable layer of a container measured", timeout=90, interval=1)
        yield p, host_lacks(web.id)
    finally:
        stop(prometheus)
        stop(observe)


def test_every_dashboard_query_returns_series(prom: tuple[Prom, dict[str, str]]) -> None:
    p, lacks = prom
    empty, excused = [], []
    for dashboard, queries in DASHBOARDS.items():
        for expr in queries:
            if p.series(expr):
                continue
            if lacks and any(name in expr for name in BLKIO):
                excused.append(f"{dashboard}: {expr}")
            else:
                empty.append(f"{dashboard}: {expr}")
    if excused:
        print("excused (this host's blkio counts nothing):\n" + "\n".join(excused))
    assert empty == [], "dashboard queries without series:\n" + "\n".join(empty)
    # the root cgroup and the machine are there, as cAdvisor gives them with --docker_only
    assert p.series('container_cpu_usage_seconds_total{id="/"}')
    assert p.series('machine_memory_bytes > 0') and p.series('count(machine_cpu_cores) == 1')
