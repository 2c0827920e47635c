"""Autoscaling against the real engine: decisions from real CPU, the exporter's outputs, and the actuator.

A compose-style group of replicas limited to ``--cpus 0.1`` burns CPU (``while :; do :; done``
until ``/tmp/stop`` exists; it exits on SIGTERM, so a graceful stop is quick) against a 50 %
target: each runs at ~100 % of its limit, so the HPA asks for about twice the replicas.
Stopping the load (touching the flag file via exec) brings CPU to ~0,
and the count must come down only once the (shortened) scale-down window has passed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporters import start_exporter
from exporters.autoscale import start_autoscaling
from exporters.autoscale.decision import Decision, Limit
from exporters.autoscale.engine import AutoscaleEngine
from exporters.server import ExporterServer
from observe.config import load_config
from observe.core import Core, build_core
from tests.conftest import RUN_ID, RUN_LABEL, Containers
from tests.support.nethelpers import http_get
from tests.support.promtool import promtool_problems
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine
BURN = "trap 'exit 0' TERM; while [ ! -f /tmp/stop ]; do :; done; sleep 600 & wait"
SERVICE = "web"




def compose_labels(containers: Containers, number: int, policy: dict[str, str]) -> dict[str, str]:
    return {
        "com.docker.compose.project": containers.name("app"),
        "com.docker.compose.service": SERVICE,
        "com.docker.compose.container-number": str(number),
        **{f"observe.autoscale.{k}": v for k, v in policy.items()},
    }


def start_group(containers: Containers, count: int, policy: dict[str, str]) -> list[Any]:
    """Replicas named as compose names them (``<project>-<service>-<n>``), each limited to 0.1 CPU."""
    return [containers.run(f"app-{SERVICE}-{n}", BURN, labels=compose_labels(containers, n, policy),
                           nano_cpus=100_000_000, mem_limit="32m", restart_policy={"Name": "no"})
            for n in range(1, count + 1)]


@pytest.fixture
def running(containers: Containers) -> Iterator[Any]:
    made: list[tuple[Core, ExporterServer, AutoscaleEngine]] = []

    def start(apply: bool) -> tuple[Core, ExporterServer, AutoscaleEngine]:
        config = load_config({"label_selector": f"{RUN_LABEL}={RUN_ID}", "name": [containers.name("*")],
                              "interval": "0.5s", "autoscale_window": "2s", "autoscale_readiness_delay": "0s",
                              "autoscale_apply": str(apply).lower()}, env={})
        core = build_core(config)
        server = start_exporter(core, listen="127.0.0.1:0")
        engine = start_autoscaling(core, server)
        made.append((core, server, engine))
        return core, server, engine

    yield start
    for core, server, engine in made:
        engine.stop()
        server.stop()
        core.stop()


def group_name(containers: Containers) -> str:
    return f"{containers.name('app')}/{SERVICE}"


def wait_decision(engine: AutoscaleEngine, service: str, test: Callable[[Decision], bool], what: str,
                  timeout: float = 15.0) -> Decision:
    def check() -> Decision | None:
        d = engine.decision(service)
        return d if d is not None and test(d) else None

    found = wait_for(check, what, timeout=timeout)
    assert found is not None
    return found


def listed(client: docker.DockerClient, filters: dict[str, str], stopped: bool = False) -> list[str]:
    """The names of the containers that match, from one listing (no inspect each, which races a removal)."""
    return [str(c["Names"][0]).lstrip("/") for c in client.api.containers(all=stopped, filters=filters)]


def stop_load(client: docker.DockerClient, containers: Containers) -> None:
    for c in client.containers.list(sparse=True, filters={"label": f"observe.test.case={containers.test_id}"}):
        code, _ = c.exec_run(["touch", "/tmp/stop"])
        assert code == 0


def test_cpu_load_scales_up_then_down_after_the_window(containers: Containers, docker_client: docker.DockerClient,
                                                       running: Any) -> None:
    start_group(containers, 2, {"cpu": "50", "min": "1", "max": "6", "scale-down-window": "10s"})
    _, server, engine = running(False)
    service = group_name(containers)

    up = wait_decision(engine, service, lambda d: d.current == 2 and d.desired > 2,
                       "a desired count above two for the burning group", timeout=20)
    assert up.driver == "cpu" and "cpu" in up.reason and f"scale up to {up.desired}" in up.reason, up.reason
    cpu = up.metric("cpu")
    assert cpu is not None and cpu.value is not None and cpu.value > 60, cpu  # each replica near 100 % of 0.1 core
    assert up.desired == min(6, -(-round(cpu.value * 2, 9) // 50)) or up.limited is not Limit.NONE

    # the outputs: gauges on /metrics (promtool-clean), the decision on /autoscale and /autoscale/<service>;
    # /metrics is built once per sweep, so the decision shows from the sweep after it
    def scraped() -> bytes | None:
        status, body = http_get(server.port, "/metrics")
        assert status == 200
        fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
        gauge = fams.get("observe_autoscale_desired_replicas")
        return body if gauge and any(s.labels["service"] == service and s.value > 2 for s in gauge.samples) else None

    body = wait_for(scraped, "the decision's gauges on /metrics", timeout=10)
    assert body is not None
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    desired = {s.labels["service"]: s.value for s in fams["observe_autoscale_desired_replicas"].samples}
    current = {s.labels["service"]: s.value for s in fams["observe_autoscale_current_replicas"].samples}
    assert desired[service] > 2 and current[service] == 2
    targets = {(s.labels["service"], s.labels["metric"]): s.value
               for s in fams["observe_autoscale_metric_target"].samples}
    assert targets[(service, "cpu")] == 50
    values = {(s.labels["service"], s.labels["metric"]): s.value
              for s in fams["observe_autoscale_metric_value"].samples}
    assert values[(service, "cpu")] > 60
    limited = {s.labels["reason"]: s.value for s in fams["observe_autoscale_limited"].samples
               if s.labels["service"] == service}
    assert sum(limited.values()) == 1 and set(limited) == {str(x) for x in Limit}
    if shutil.which("promtool"):
        problems = promtool_problems(body)
        assert problems == [], problems
    status, body = http_get(server.port, "/autoscale")
    doc = json.loads(body)
    assert status == 200 and doc["services"][service]["desired_replicas"] > 2
    assert doc["services"][service]["value_location"] == f"services.{service}.desired_replicas"
    assert doc["items"][0]["service"] == service and doc["services"][service]["reason"]
    status, body = http_get(server.port, f"/autoscale/{service}")
    assert status == 200 and json.loads(body)["desired_replicas"] > 2
    assert http_get(server.port, "/autoscale/nothing-here")[0] == 404

    # load stops: recommendations fall at once, the count comes down only after the 10 s window
    stop_load(docker_client, containers)
    stopped = time.monotonic()
    held = wait_decision(engine, service, lambda d: d.limited is Limit.SCALE_DOWN_WINDOW,
                         "the scale-down window holding the count")
    # (dry run: the group still runs 2; the window keeps it there although the metrics ask for 1)
    # An idle replica reads 0 % (asks for 0 before min clamps it) or a trace above (asks for 1).
    assert held.desired == held.current == 2 and held.recommendation <= 1, held
    assert "scale-down window" in held.reason
    down = wait_decision(engine, service, lambda d: d.desired < 2, "the count coming down", timeout=30)
    elapsed = time.monotonic() - stopped
    # the last high recommendation came at most window (2 s) + an interval after the stop; it holds for 10 s
    assert elapsed >= 10 - 0.5, elapsed
    assert down.desired == 1 and down.current == 2, down  # min 1: the idle group needs one replica
    assert len(listed(docker_client, {"label": f"observe.test.case={containers.test_id}"})) == 2


def test_apply_creates_and_removes_replicas_like_the_original(containers: Containers,
                                                              docker_client: docker.DockerClient,
                                                              running: Any) -> None:
    originals = start_group(containers, 2, {"cpu": "50", "min": "1", "max": "3", "scale-down-window": "5s"})
    _, _, engine = running(True)
    service = group_name(containers)
    case = {"label": f"observe.test.case={containers.test_id}"}
    new_name = containers.name(f"app-{SERVICE}-3")

    def third() -> Any:
        return docker_client.containers.get(new_name) if new_name in listed(docker_client, case) else None

    new = wait_for(third, "the actuator creating replica number 3", timeout=25)
    wait_decision(engine, service, lambda d: d.current == 3, "three replicas counted")
    new.reload()
    old = docker_client.containers.get(originals[-1].id)
    for key in ("Image", "Cmd", "Entrypoint", "Env", "WorkingDir", "StopTimeout"):
        assert new.attrs["Config"].get(key) == old.attrs["Config"].get(key), key
    labels = dict(old.attrs["Config"]["Labels"])
    labels["com.docker.compose.container-number"] = "3"
    assert new.attrs["Config"]["Labels"] == labels
    for key in ("NanoCpus", "Memory", "RestartPolicy", "NetworkMode", "LogConfig"):
        assert new.attrs["HostConfig"][key] == old.attrs["HostConfig"][key], key
    assert new.status == "running"
    assert engine.autoscaler.history(service).events, "the applied change is recorded for the rate policies"
    time.sleep(3)  # max 3: nothing more may be created while the load goes on
    assert len(listed(docker_client, case, stopped=True)) == 3

    stop_load(docker_client, containers)
    wait_for(lambda: len(listed(docker_client, case, stopped=True)) == 1,
             "the actuator removing replicas 3 and 2 after the scale-down window", timeout=40)
    assert listed(docker_client, case, stopped=True) == [containers.name(f"app-{SERVICE}-1")]
    d = wait_decision(engine, service, lambda d: d.current == 1, "one replica counted")
    assert d.desired == 1
