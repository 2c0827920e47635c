"""The compose file and the DaemonSet's container, run here on the test engine with the observe image.

Compose: docker-compose brings up observe and the dashboards export (the Prometheus and Grafana images cannot
be had here; promtool checks the configuration the export left in the shared volume). The DaemonSet: its
container spec (ConfigMap, env, mounts, securityContext) translated to the engine's terms and run, so the
read-only root, the dropped capabilities and no-new-privileges are proven to leave observe working.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from tests.conftest import RUN_ID, RUN_LABEL, Containers
from tests.deploy.manifests import COMPOSE, kind, kubernetes
from tests.support.nethelpers import free_port, http_get
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine
SECOND = 1_000_000_000


def healthz(port: int) -> bool:
    with contextlib.suppress(OSError):
        return http_get(port, "/healthz")[0] == 200
    return False


def records_of(container: Any, name: str) -> list[dict[str, Any]]:
    """The records of container ``name`` that observe's stdout sink wrote to the engine's log of ``container``."""
    out = []
    for line in container.logs(stdout=True, stderr=False).decode().splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            if doc.get("container", {}).get("name") == name:
                out.append(doc)
    return out


def wait_records(container: Any, name: str, count: int, what: str) -> list[dict[str, Any]]:
    return wait_for(lambda: (lambda got: got if len(got) >= count else None)(records_of(container, name)), what)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_compose_runs_observe_and_exports_the_dashboards(
        docker_client: docker.DockerClient, observe_image: str, containers: Containers, tmp_path: Path) -> None:
    port = free_port()
    project = f"obs{containers.test_id}"
    labels = {RUN_LABEL: RUN_ID, "observe.test.case": containers.test_id}
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"services": {
        "observe": {"environment": {"OBSERVE_LISTEN": f"127.0.0.1:{port}",
                                    "OBSERVE_LABEL_SELECTOR": f"observe.test.app={containers.test_id}"},
                    "labels": labels},
        "dashboards": {"labels": labels},
    }}))
    env = {**os.environ, "OBSERVE_IMAGE": observe_image, "GRAFANA_ADMIN_PASSWORD": "x"}
    base = ["docker-compose", "-p", project, "-f", str(COMPOSE), "-f", str(override)]
    try:
        up = subprocess.run([*base, "up", "-d", "--no-build", "observe", "dashboards"], capture_output=True,
                            text=True, env=env, timeout=120)
        assert up.returncode == 0, up.stderr
        wait_for(lambda: healthz(port), "observe started by compose to answer /healthz", timeout=60)
        containers.run("app", "echo 'compose line 1'; echo 'compose line 2'; sleep 600",
                       labels={"observe.test.app": containers.test_id})
        (observe,) = docker_client.containers.list(filters={"label": f"com.docker.compose.project={project}",
                                                            "name": f"{project}_observe"})
        name = containers.name("app")
        got = wait_records(observe, name, 2, "the app's two lines on the compose observe's stdout sink")
        assert [r["message"] for r in got] == ["compose line 1", "compose line 2"]

        (export,) = docker_client.containers.list(all=True, filters={
            "label": f"com.docker.compose.project={project}", "name": f"{project}_dashboards"})
        wait_for(lambda: export.reload() or export.status == "exited", "the dashboards export to finish")
        assert export.attrs["State"]["ExitCode"] == 0, export.logs().decode()[-2000:]
        shipped = Path(docker_client.volumes.get(f"{project}_shipped").attrs["Mountpoint"])
        assert sorted(p.name for p in (shipped / "grafana" / "dashboards").glob("*.json"))
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "config", str(shipped / "prometheus" / "prometheus.yml")],
                                   capture_output=True, text=True, timeout=60)
            assert check.returncode == 0, check.stdout + check.stderr
            assert check.stdout.count("SUCCESS") >= 2  # the configuration and its rule files
    finally:
        subprocess.run([*base, "down", "-v", "--timeout", "20"], capture_output=True, env=env, timeout=120)


@pytest.fixture
def daemonset_container(docker_client: docker.DockerClient, observe_image: str, containers: Containers,
                        tmp_path: Path) -> Iterator[tuple[Any, int]]:
    """The DaemonSet's container as the kubelet would start it on a node named node-a (on this engine)."""
    docs = kubernetes()
    config = kind(docs, "ConfigMap")["data"]
    spec = kind(docs, "DaemonSet")["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    port = free_port()
    env = dict(config)
    for item in c["env"]:
        env[item["name"]] = item.get("value", "node-a")  # the one fieldRef is spec.nodeName
    env["OBSERVE_LISTEN"] = f"127.0.0.1:{port}"
    env["OBSERVE_LABEL_SELECTOR"] = f"observe.test.app={containers.test_id}"
    volumes = {v["name"]: v for v in spec["volumes"]}
    binds: dict[str, dict[str, str]] = {}
    tmpfs: dict[str, str] = {}
    for m in c["volumeMounts"]:
        volume = volumes[m["name"]]
        if "emptyDir" in volume:
            tmpfs[m["mountPath"]] = "size=16m"
            continue
        source = volume["hostPath"]["path"]
        if m["mountPath"] == "/var/lib/observe":
            source = str(tmp_path / "state")
            os.makedirs(source)
        binds[source] = {"bind": m["mountPath"], "mode": "ro" if m.get("readOnly") else "rw"}
    security = c["securityContext"]
    made = docker_client.containers.run(
        observe_image, c["args"], name=containers.name("daemonset"), detach=True, network_mode="host",
        environment=env, volumes=binds, tmpfs=tmpfs, user=str(security["runAsUser"]),
        read_only=security["readOnlyRootFilesystem"], cap_drop=security["capabilities"]["drop"],
        cap_add=security["capabilities"]["add"],
        security_opt=[] if security["allowPrivilegeEscalation"] else ["no-new-privileges"],
        labels={RUN_LABEL: RUN_ID, "observe.test.daemonset": containers.test_id},
    )
    try:
        yield made, port
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            made.remove(force=True)


def test_daemonset_container_runs_with_its_security_context(
        daemonset_container: tuple[Any, int], containers: Containers) -> None:
    observer, port = daemonset_container
    wait_for(lambda: healthz(port), "the DaemonSet's container to answer /healthz (its probes)", timeout=60)
    containers.run("app", "echo 'pod line'; while :; do :; done", labels={"observe.test.app": containers.test_id},
                   cpu_period=100_000, cpu_quota=10_000)
    name = containers.name("app")
    (record,) = wait_records(observer, name, 1, "the app's line on the DaemonSet container's stdout sink")
    assert record["message"] == "pod line" and record["host"]["name"] == "node-a"
    body = wait_for(lambda: (lambda b: b if f'name="{name}"' in b else None)(http_get(port, "/metrics")[1].decode()),
                    f"{name}'s series on /metrics")
    assert re.search(r'^observe_sampler_info\{backend="cgroup"\} 1(\.0)?$', body, re.M), "not the cgroup backend"
    observer.reload()
    assert observer.status == "running", observer.logs().decode()[-2000:]
