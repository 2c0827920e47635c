from __future__ import annotations

from typing import Any

import pytest

from observe.engine.inspect import cgroup_location, expand_slice, from_inspect, service_group, split_image


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("busybox", ("busybox", "latest")),
        ("observe-test/busybox:1", ("observe-test/busybox", "1")),
        ("localhost:5000/app", ("localhost:5000/app", "latest")),
        ("localhost:5000/app:2.0", ("localhost:5000/app", "2.0")),
        ("app@sha256:abc", ("app", "sha256:abc")),
    ],
)
def test_split_image(ref: str, expected: tuple[str, str]) -> None:
    assert split_image(ref) == expected


def test_service_group_precedence() -> None:
    compose = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
               "com.docker.compose.container-number": "2", "team": "payments"}
    assert service_group("shop-web-2", compose) == service_group("x", compose)
    g = service_group("shop-web-2", compose)
    assert (g.name, g.kind, g.replica) == ("shop/web", "compose", 2)
    assert service_group("c", compose, "team").name == "payments"
    assert service_group("c", compose, "team").kind == "label"
    assert service_group("c", {"com.docker.swarm.service.name": "api"}).name == "api"
    k8s = {"io.kubernetes.pod.name": "web-7d9", "io.kubernetes.container.name": "nginx"}
    assert service_group("k8s_x", k8s).name == "web-7d9/nginx"
    own = service_group("lonely", {})
    assert (own.name, own.kind) == ("lonely", "container")


def test_cgroup_locations() -> None:
    cid = "a" * 64
    assert cgroup_location(cid, "", "cgroupfs", 1).path == f"docker/{cid}"
    assert cgroup_location(cid, "", "systemd", 2).path == f"system.slice/docker-{cid}.scope"
    assert cgroup_location(cid, "", "cgroupfs", 2).path == f"docker/{cid}"
    assert cgroup_location(cid, "/custom/parent", "cgroupfs", 2).path == f"custom/parent/{cid}"
    assert cgroup_location(cid, "my-app.slice", "systemd", 2).path == f"my.slice/my-app.slice/docker-{cid}.scope"
    assert expand_slice("a-b-c.slice") == "a.slice/a-b.slice/a-b-c.slice"
    assert expand_slice("-.slice") == ""


def test_from_inspect_minimal_document() -> None:
    doc: dict[str, Any] = {
        "Id": "f" * 64,
        "Name": "/web-1",
        "Created": "2026-01-02T03:04:05.123456789Z",
        "Image": "sha256:" + "1" * 64,
        "RestartCount": 3,
        "LogPath": "/var/lib/docker/containers/x/x-json.log",
        "State": {"Status": "running", "Running": True, "Pid": 42, "ExitCode": 0,
                  "StartedAt": "2026-01-02T03:04:06Z", "FinishedAt": "0001-01-01T00:00:00Z",
                  "Health": {"Status": "healthy"}},
        "Config": {"Image": "shop/web:2", "Labels": {"com.docker.compose.service": "web"}, "Tty": False},
        "HostConfig": {"LogConfig": {"Type": "json-file"}, "Memory": 67108864, "NanoCpus": 200000000},
    }
    info = from_inspect(doc, {"CgroupDriver": "systemd", "CgroupVersion": "2"})
    assert info.name == "web-1" and info.image_name == "shop/web" and info.image_tag == "2"
    assert info.health == "healthy" and info.restart_count == 3 and info.pid == 42
    assert info.started_at is not None and info.finished_at is None
    assert info.cgroup.version == 2 and info.cgroup.path.endswith(f"docker-{'f' * 64}.scope")
    assert info.service.name == "web" and info.memory_limit == 64 * 1024 * 1024
    assert info.log_driver == "json-file"
