"""The sampler and the exporter against the real engine (cgroup v1, cgroupfs), Prometheus and promtool.

Tolerances: CPU rate of a busy loop capped by ``--cpus 0.2`` is 0.12-0.25 cores over >= 5 s (0.2 when alone)
(the quota caps it; a loaded 2-core host may give it slightly less); memory figures agree with
the cgroup files and the stats API within max(1 MiB, 10 %) (they are read a few ms apart).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporters import start_exporter
from exporters.server import ExporterServer
from observe.config import load_config
from observe.core import Core, build_core
from observe.stats.api import ApiBackend
from observe.stats.cgroup import CgroupReader
from tests.conftest import RUN_ID, RUN_LABEL, Containers
from tests.support.nethelpers import free_port, http_get
from tests.support.promtool import promtool_problems
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine
MIB = 1024 * 1024
CGROUP = "/sys/fs/cgroup"






def scrape(server: ExporterServer) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name of sample -> {sorted labels without the container labels: value}, for our test containers."""
    status, body = http_get(server.port, "/metrics")
    assert status == 200
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, container: str) -> float | None:
    """The container's value of ``name``, its series summed (one per CPU on cgroup v1, or cpu="total")."""
    found = [v for labels, v in metrics.get(name, {}).items() if ("name", container) in labels]
    return sum(found) if found else None


@pytest.fixture
def exporter(containers: Containers) -> Iterator[tuple[Core, ExporterServer]]:
    config = load_config({"label_selector": f"{RUN_LABEL}={RUN_ID}", "name": [containers.name("*")],
                          "label_allowlist": ["observe.test.case"], "interval": "0.5s"}, env={})
    core = build_core(config)
    server = start_exporter(core, listen="127.0.0.1:0")
    yield core, server
    server.stop()
    core.stop()


def read_cgroup(controller: str, cid: str, name: str) -> str:
    return Path(CGROUP, controller, "docker", cid, name).read_text()


def test_burning_container(containers: Containers, docker_client: docker.DockerClient,
                           exporter: tuple[Core, ExporterServer]) -> None:
    core, server = exporter
    burn = containers.run("burn", "while :; do :; done", mem_limit="64m", nano_cpus=200_000_000)
    name = containers.name("burn")
    assert core.sampler.snapshot().health.backend == "cgroup"
    first = wait_for(lambda: (m := scrape(server)) and value(m, "container_cpu_usage_seconds_total", name)
                     is not None and m, "the burning container's CPU series")
    assert value(first, "container_spec_memory_limit_bytes", name) == 64 * MIB
    assert value(first, "container_spec_cpu_quota", name) == 20000
    assert value(first, "container_spec_cpu_period", name) == 100000
    labels = next(k for k in first["container_cpu_usage_seconds_total"] if ("name", name) in k)
    cpu_label = dict(labels)["cpu"]
    assert dict(labels)["id"] == f"/docker/{burn.id}" and (cpu_label == "total" or cpu_label.startswith("cpu"))
    assert dict(labels)["container_label_observe_test_case"] == containers.test_id
    time.sleep(5)  # a measurement window, not a wait for a condition
    second = scrape(server)
    cpu = value(second, "container_cpu_usage_seconds_total", name)
    cpu0 = value(first, "container_cpu_usage_seconds_total", name)
    t0, t1 = value(first, "container_last_seen", name), value(second, "container_last_seen", name)
    assert cpu is not None and cpu0 is not None and t0 is not None and t1 is not None and t1 - t0 >= 4.5
    rate = (cpu - cpu0) / (t1 - t0)
    assert 0.12 <= rate <= 0.25, rate  # a quota caps it at 0.2; a busy host can only lower it
    throttled0 = value(first, "container_cpu_cfs_throttled_periods_total", name)
    throttled1 = value(second, "container_cpu_cfs_throttled_periods_total", name)
    assert throttled0 is not None and throttled1 is not None and throttled1 > throttled0 + 10

    # memory: the exporter, the cgroup files and the stats API agree
    api = docker_client.api.stats(burn.id, stream=False)
    files_usage = int(read_cgroup("memory", burn.id, "memory.usage_in_bytes"))
    stat = dict(line.split() for line in read_cgroup("memory", burn.id, "memory.stat").splitlines())
    files_ws = files_usage - int(stat["total_inactive_file"])
    now = scrape(server)
    usage = value(now, "container_memory_usage_bytes", name)
    ws = value(now, "container_memory_working_set_bytes", name)
    rss = value(now, "container_memory_rss", name)
    assert usage is not None and ws is not None and rss is not None

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= max(MIB, 0.1 * max(a, b))

    assert close(usage, files_usage) and close(usage, api["memory_stats"]["usage"]), (usage, files_usage, api)
    api_ws = api["memory_stats"]["usage"] - api["memory_stats"]["stats"]["total_inactive_file"]
    assert close(ws, files_ws) and close(ws, api_ws)
    assert close(rss, api["memory_stats"]["stats"]["total_rss"])
    assert value(now, "container_processes", name) == 1 and value(now, "container_threads", name) == 1

    # promtool on the real output
    if shutil.which("promtool"):
        body = http_get(server.port, "/metrics")[1]
        problems = promtool_problems(body)
        assert problems == [], problems

    # a stopped container's series disappear; its info says why
    burn.stop(timeout=1)
    wait_for(lambda: value(scrape(server), "container_cpu_usage_seconds_total", name) is None,
             "the stopped container's series to disappear")

    def exited_info() -> dict[str, str] | None:
        found = [dict(k) for k in scrape(server)["observe_container_info"] if ("name", name) in k]
        return found[0] if found and found[0]["state"] == "exited" else None

    # The cgroup goes away at the kill; the engine's "die" event follows a moment later.
    wait_for(exited_info, "observe_container_info to say the container exited")
    final = scrape(server)
    assert not any(("name", name) in k for n, series in final.items() if n.startswith("container_") for k in series)
    assert value(final, "observe_container_exit_code", name) == 137


def test_v1_reader_on_real_files(containers: Containers, docker_client: docker.DockerClient) -> None:
    c = containers.run("v1", "sleep 600", mem_limit="32m", cpu_quota=50000, cpu_period=100000, cpu_shares=512)
    doc = docker_client.api.inspect_container(c.id)
    from observe.engine.inspect import from_inspect

    info = from_inspect(doc, docker_client.api.info())
    reader = CgroupReader(CGROUP, 1)
    assert reader.available()
    paths = reader.locate(info.cgroup, info.pid)
    assert paths.dir("memory") == f"{CGROUP}/memory/docker/{c.id}"
    s = reader.read(paths, time.time(), time.monotonic())
    assert s.spec_memory_limit_bytes == 32 * MIB
    assert (s.spec_cpu_quota_us, s.spec_cpu_period_us, s.spec_cpu_shares) == (50000, 100000, 512)
    assert (s.processes, s.threads) == (1, 1)
    assert s.cpu_usage_seconds is not None
    assert 0 < s.cpu_usage_seconds <= int(read_cgroup("cpuacct", c.id, "cpuacct.usage")) / 1e9
    assert s.memory_usage_bytes is not None and s.memory_usage_bytes > 0
    assert s.network == () or s.network is None  # network none: only lo, which is left out
    assert s.oom_events == 0 and s.memory_failcnt == 0


def test_api_backend_streams_and_reconnects(containers: Containers) -> None:
    c = containers.run("api", "while :; do :; done", nano_cpus=100_000_000)
    core = build_core(load_config({}, env={}))
    backend = ApiBackend(core.engine, backoff_max=0.5)
    try:
        core.inventory.resync()
        info = core.inventory.get(c.id)
        assert info is not None
        backend.track(info)
        first = wait_for(lambda: backend.read(info, time.time(), time.monotonic()), "a streamed stats document")
        assert first.cpu_usage_seconds is not None and first.memory_usage_bytes is not None
        follower = backend._followers[c.id]
        follower._stream.close()  # the connection drops under the follower
        wait_for(lambda: follower.reconnects >= 1, "the stats stream to reopen")
        later = wait_for(lambda: (s := backend.read(info, time.time(), time.monotonic())) and
                         s.cpu_usage_seconds is not None and first.cpu_usage_seconds is not None and
                         s.cpu_usage_seconds > first.cpu_usage_seconds and s, "newer stats after the reconnect")
        assert later.threads == 1
        backend.untrack(c.id)
        wait_for(lambda: not follower._thread.is_alive(), "the stream's thread to end after untrack")
        assert backend.streams() == 0
    finally:
        backend.close()
        core.stop()


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed")
def test_real_prometheus_rate(containers: Containers, exporter: tuple[Core, ExporterServer],
                              tmp_path: Path) -> None:
    _, server = exporter
    containers.run("prom", "while :; do :; done", nano_cpus=200_000_000)
    name = containers.name("prom")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: observe\n    static_configs:\n      - targets: ['127.0.0.1:{server.port}']\n"
    )
    with open(tmp_path / "prometheus.log", "wb") as log, subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
    ) as prom:
        try:
            def answer(promql: str) -> float | None:
                try:
                    status, body = http_get(port, f"/api/v1/query?query={urllib.parse.quote(promql)}")
                except OSError:
                    return None
                result = json.loads(body)["data"]["result"] if status == 200 else []
                return float(result[0]["value"][1]) if result else None

            series = f'container_cpu_usage_seconds_total{{name="{name}"}}'
            # rate() divides by the whole range, so the series must be older than the range: a 10 s
            # range (shorter than the 30 s to keep the test short) over 12+ s of scrapes
            wait_for(lambda: (answer(f"min(count_over_time({series}[15s]))") or 0) >= 13,
                     "Prometheus to hold 13 scrapes of the container", timeout=60, interval=0.5)
            rate = answer(f"sum(rate({series}[10s]))")  # one series per CPU on cgroup v1
            assert rate is not None
            # The quota caps the rate at 0.2; a busy host (other tests, CI neighbours) can only lower it.
            assert 0.12 <= rate <= 0.25, rate
        finally:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()


def test_cli_exporter_until_sigterm(containers: Containers) -> None:
    containers.run("cli")
    port = free_port()
    env = {**os.environ, "OBSERVE_LISTEN": f"127.0.0.1:{port}"}
    with subprocess.Popen([sys.executable, "-m", "observe", "exporter", "--name", containers.name("*")],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            def metrics() -> bytes | None:
                try:
                    status, body = http_get(port, "/metrics")
                except OSError:
                    return None
                return body if status == 200 and containers.name("cli").encode() in body else None

            body = wait_for(metrics, "observe exporter to serve the container's metrics", timeout=30)
            assert b"container_memory_working_set_bytes{" in body
            assert http_get(port, "/healthz") == (200, b"ok\n")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            assert proc.stderr is not None
            proc.stderr.read()
