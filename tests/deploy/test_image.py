"""The observe image on the test engine, run the way the Dockerfile's header says: host mounts, a state volume.

It must see the host's containers through the socket, read their cgroup files through the /host mounts
(the cgroup backend, not the API), read their json-file logs at the path inspect names, ship those lines,
keep checkpoints in the state volume, answer /healthz and turn healthy by its own HEALTHCHECK.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.architecture.test_compiled import compiled_modules
from tests.conftest import RUN_ID, RUN_LABEL, Containers
from tests.support.nethelpers import free_port, http_get
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine
LINES = 40
SECOND = 1_000_000_000


def mounts(state: Path, out: Path) -> dict[str, dict[str, str]]:
    """The Dockerfile's host mounts, plus a folder for the file sink."""
    return {
        "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
        "/sys/fs/cgroup": {"bind": "/host/sys/fs/cgroup", "mode": "ro"},
        "/proc": {"bind": "/host/proc", "mode": "ro"},
        "/var/lib/docker/containers": {"bind": "/var/lib/docker/containers", "mode": "ro"},
        str(state): {"bind": "/var/lib/observe", "mode": "rw"},
        str(out): {"bind": "/out", "mode": "rw"},
    }


@pytest.fixture
def observe_container(docker_client: docker.DockerClient, observe_image: str, containers: Containers,
                      tmp_path: Path) -> Iterator[tuple[Any, int, Path, Path]]:
    port = free_port()
    state, out = tmp_path / "state", tmp_path / "out"
    state.mkdir()
    out.mkdir()
    c = docker_client.containers.run(
        observe_image,
        ["run", "--listen", f"127.0.0.1:{port}", "--label-selector", f"observe.test.case={containers.test_id}",
         "--sink", "file:///out/records.ndjson", "--read-from-head", "true", "--host-name", "image-host"],
        name=containers.name("observe"), detach=True, network_mode="host", volumes=mounts(state, out),
        environment={"OBSERVE_LISTEN": f"127.0.0.1:{port}"},
        labels={RUN_LABEL: RUN_ID, "observe.test.image": containers.test_id},
        healthcheck={"interval": SECOND, "timeout": 5 * SECOND, "start_period": 0, "retries": 30},
    )
    try:
        yield c, port, state, out
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)


def metric_lines(port: int) -> list[str]:
    with contextlib.suppress(OSError):
        status, body = http_get(port, "/metrics")
        if status == 200:
            return body.decode().splitlines()
    return []


def records(out: Path) -> list[dict[str, Any]]:
    path = out / "records.ndjson"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_image_sees_scrapes_and_ships_the_hosts_containers(
        observe_container: tuple[Any, int, Path, Path], containers: Containers) -> None:
    observer, port, state, out = observe_container
    app = containers.run("app", f"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo \"app line $i\"; done; "
                         "while :; do :; done", cpu_period=100_000, cpu_quota=20_000)
    name = containers.name("app")

    wait_for(lambda: http_get(port, "/healthz")[0] == 200 if metric_lines(port) else False,
             "the containerised observe to answer /healthz", timeout=60)
    wait_for(lambda: any(line.startswith("container_cpu_usage_seconds_total{") and f'name="{name}"' in line
                         for line in metric_lines(port)), f"CPU series of {name} on /metrics", timeout=30)
    lines = metric_lines(port)
    info = [x for x in lines if x.startswith('observe_sampler_info{backend="cgroup"} ')]
    assert info and float(info[0].split()[-1]) == 1, [x for x in lines if "sampler_info" in x]
    memory = [x for x in lines if x.startswith("container_memory_working_set_bytes{") and f'name="{name}"' in x]
    assert memory and float(memory[0].rsplit(" ", 1)[1]) > 0, memory
    quota = [x for x in lines if x.startswith("container_spec_cpu_quota{") and f'name="{name}"' in x]
    assert quota and float(quota[0].rsplit(" ", 1)[1]) == 20_000, quota

    def app_records() -> list[dict[str, Any]] | None:
        mine = [r for r in records(out) if r.get("container", {}).get("name") == name]
        return mine if len(mine) >= LINES else None

    got = wait_for(app_records, f"{LINES} records of {name} in the file sink", timeout=30)
    assert [r["message"] for r in got] == [f"app line {i}" for i in range(1, LINES + 1)]
    assert {r["host"]["name"] for r in got} == {"image-host"}
    assert got[0]["container"]["id"] == app.id

    own = observer.logs(stdout=False, stderr=True).decode().splitlines()
    events = [json.loads(line) for line in own if line.startswith("{")]
    assert len(events) == len([x for x in own if x.strip()]), "observe's own log has a line that is not JSON"
    follow = [e for e in events if e.get("event") == "LogFollowStarted" and e.get("container") == name]
    assert follow and follow[0]["reader"] == "json-file", follow

    def healthy() -> bool:
        observer.reload()
        return bool(observer.attrs["State"].get("Health", {}).get("Status") == "healthy")

    wait_for(healthy, "the image's HEALTHCHECK to report healthy", timeout=30)

    observer.stop(timeout=20)
    observer.reload()
    assert observer.attrs["State"]["ExitCode"] == 0, observer.logs()[-2000:]
    assert any(state.iterdir()), "no checkpoint in the state volume"


def test_the_images_log_path_is_compiled(docker_client: docker.DockerClient, observe_image: str,
                                         containers: Containers) -> None:
    """The build stage installs a compiler from the base's archive: the image runs the compiled log path."""
    names = [path.removesuffix(".py").replace("/", ".") for path in compiled_modules()]
    code = (f"import importlib; names = {names!r}; "
            "print(sorted(n for n in names if importlib.import_module(n).__file__.endswith('.py')))")
    out = docker_client.containers.run(observe_image, ["-c", code], entrypoint="python3", remove=True,
                                       network_mode="none", name=containers.name("compiled"),
                                       labels={RUN_LABEL: RUN_ID})
    assert out.decode().strip() == "[]", f"interpreted in the image: {out.decode().strip()}"
    size = docker_client.images.get(observe_image).attrs["Size"]
    gcc = docker_client.containers.run(observe_image, ["-c", "import shutil; print(shutil.which('gcc'))"],
                                       entrypoint="python3", remove=True, network_mode="none",
                                       name=containers.name("nogcc"), labels={RUN_LABEL: RUN_ID})
    assert gcc.decode().strip() == "None", "the compiler was left in the final image"
    assert size < 400 << 20, size
