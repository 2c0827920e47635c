"""Pure translation of an inspect document into a ``ContainerInfo``: no I/O, no Docker.

Kept apart from the inventory so that it can be tested on recorded documents and on
documents shaped like other hosts (systemd cgroups, cgroup v2, compose, swarm, kubernetes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from observe.model import CgroupLocation, ContainerInfo, ServiceGroup
from observe.timefmt import parse_datetime

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"
SWARM_SERVICE = "com.docker.swarm.service.name"
SWARM_SLOT = "com.docker.swarm.task.name"
K8S_POD = "io.kubernetes.pod.name"
K8S_CONTAINER = "io.kubernetes.container.name"
K8S_NAMESPACE = "io.kubernetes.pod.namespace"


def split_image(ref: str) -> tuple[str, str]:
    """``registry:5000/repo:tag`` -> (``registry:5000/repo``, ``tag``); digests keep their form."""
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
        return name, tag
    return ref, "latest" if ref and not ref.startswith("sha256:") else ""


def service_group(name: str, labels: Mapping[str, str], service_label: str = "") -> ServiceGroup:
    """The group a container is a replica of.

    A configured label wins, then compose (``project/service``), swarm, kubernetes
    (``pod/container``); otherwise the container is its own group.
    """
    number = labels.get(COMPOSE_NUMBER, "")
    replica = int(number) if number.isdigit() else None
    if service_label and labels.get(service_label):
        return ServiceGroup(labels[service_label], "label", replica)
    if labels.get(COMPOSE_SERVICE):
        project = labels.get(COMPOSE_PROJECT, "")
        svc = labels[COMPOSE_SERVICE]
        return ServiceGroup(f"{project}/{svc}" if project else svc, "compose", replica)
    if labels.get(SWARM_SERVICE):
        return ServiceGroup(labels[SWARM_SERVICE], "swarm", replica)
    if labels.get(K8S_POD):
        pod = labels[K8S_POD]
        ctr = labels.get(K8S_CONTAINER, "")
        return ServiceGroup(f"{pod}/{ctr}" if ctr else pod, "kubernetes", replica)
    return ServiceGroup(name, "container", None)


def expand_slice(slice_name: str) -> str:
    """systemd's slice nesting: ``a-b.slice`` lives at ``a.slice/a-b.slice``."""
    if slice_name in ("", "-.slice"):
        return ""
    if not slice_name.endswith(".slice"):
        return slice_name.strip("/")
    stem = slice_name[: -len(".slice")]
    parts = stem.split("-")
    return "/".join("-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))


def cgroup_location(container_id: str, cgroup_parent: str, driver: str, version: int) -> CgroupLocation:
    """Where the engine put a container's cgroup, relative to the hierarchy root."""
    if driver == "systemd":
        parent = expand_slice(cgroup_parent or "system.slice")
        scope = f"docker-{container_id}.scope"
        path = f"{parent}/{scope}" if parent else scope
    else:
        parent = (cgroup_parent or "/docker").strip("/")
        path = f"{parent}/{container_id}" if parent else container_id
    return CgroupLocation(path, driver or "cgroupfs", version)


def engine_cgroup(info: Mapping[str, Any]) -> tuple[str, int]:
    """(driver, version) from the engine's ``/info``; old engines have no CgroupVersion (v1)."""
    driver = str(info.get("CgroupDriver") or "cgroupfs")
    version = str(info.get("CgroupVersion") or "1")
    return driver, 2 if version == "2" else 1


NO_ROTATION_DRIVERS = frozenset({"journald", "none", "etwlogs"})
"""Drivers whose readable log is not a set of files rotated by size."""


def log_rotates(doc: Mapping[str, Any]) -> bool:
    """Whether the container's readable log is files rotated by size (from an inspect document).

    ``local`` rotates by default (20 MB), and so do the cache files that other drivers read
    from (dual logging); ``json-file`` only with a ``max-size``. The daemon's default options
    are merged into the container's ``LogConfig`` when it is created.
    """
    config: Mapping[str, Any] = (doc.get("HostConfig") or {}).get("LogConfig") or {}
    driver = str(config.get("Type") or "")
    if driver in NO_ROTATION_DRIVERS:
        return False
    if driver == "json-file":
        size = str((config.get("Config") or {}).get("max-size") or "")
        return size not in ("", "-1")
    return True


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def from_inspect(doc: Mapping[str, Any], info: Mapping[str, Any], service_label: str = "") -> ContainerInfo:
    """Build a ``ContainerInfo`` from an inspect document and the engine's ``/info``."""
    cfg: Mapping[str, Any] = doc.get("Config") or {}
    state: Mapping[str, Any] = doc.get("State") or {}
    host: Mapping[str, Any] = doc.get("HostConfig") or {}
    labels: dict[str, str] = dict(cfg.get("Labels") or {})
    name = str(doc.get("Name") or "").lstrip("/")
    image = str(cfg.get("Image") or doc.get("Image") or "")
    image_name, image_tag = split_image(image)
    health_doc = state.get("Health") or {}
    driver, version = engine_cgroup(info)
    cid = str(doc["Id"])
    return ContainerInfo(
        id=cid,
        name=name,
        image=image,
        image_name=image_name,
        image_tag=image_tag,
        image_id=str(doc.get("Image") or ""),
        state=str(state.get("Status") or ("running" if state.get("Running") else "unknown")),
        health=str(health_doc.get("Status") or ""),
        exit_code=_int(state.get("ExitCode")),
        restart_count=_int(doc.get("RestartCount")),
        created=parse_datetime(doc.get("Created")),
        started_at=parse_datetime(state.get("StartedAt")),
        finished_at=parse_datetime(state.get("FinishedAt")),
        labels=labels,
        log_driver=str((host.get("LogConfig") or {}).get("Type") or ""),
        log_path=str(doc.get("LogPath") or ""),
        tty=bool(cfg.get("Tty")),
        pid=_int(state.get("Pid")),
        cgroup=cgroup_location(cid, str(host.get("CgroupParent") or ""), driver, version),
        service=service_group(name, labels, service_label),
        memory_limit=_int(host.get("Memory")),
        nano_cpus=_int(host.get("NanoCpus")),
        cpu_quota=_int(host.get("CpuQuota")),
        cpu_period=_int(host.get("CpuPeriod")),
        cpu_shares=_int(host.get("CpuShares")),
        raw=doc,
        oom_killed=bool(state.get("OOMKilled")),
    )
