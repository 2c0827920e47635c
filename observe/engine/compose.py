"""Replicas of a compose-style service on plain Docker: create one like an existing replica, remove one gracefully.

Only the core talks to Docker, so the autoscaling actuator (``exporters/autoscale``) calls these
through ``Core.create_replica_like`` and ``Core.remove_replica``.

A new replica is created from the template's inspect document the way ``docker compose up
--scale`` creates one: the same image reference, command, entrypoint, environment, labels (with
``com.docker.compose.container-number`` set to the new number), working directory, user,
healthcheck, stop signal and timeout, and the whole ``HostConfig`` (limits, restart policy,
network mode, binds and mounts, log config ...); named ``<project>-<service>-<number>``; attached
to the template's user-defined networks with its aliases. What identifies the template itself
(hostname, container id aliases, fixed IP addresses, MAC address, ``ContainerIDFile``) is not
copied. ``replica_spec`` is the pure part, tested on recorded documents.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from observe.engine import Engine
from observe.engine.inspect import COMPOSE_NUMBER, COMPOSE_PROJECT, COMPOSE_SERVICE
from observe.errors import ContainerNotFound, ObserveError

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10  # seconds, Docker's own default
# Config keys copied verbatim from the template (the create API takes the inspect shape).
_CONFIG_KEYS = (
    "User", "Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr", "Env", "Cmd",
    "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "ExposedPorts",
    "StopSignal", "StopTimeout", "Shell",
)
# Network modes that are not user-defined networks a replica joins by name.
_BUILTIN_NETWORKS = ("none", "host", "bridge", "default")
_HEX_ID = re.compile(r"[0-9a-f]{12,64}\Z")


class ScalingError(ObserveError):
    """A replica could not be created, started or removed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """What to send the engine to create one replica: the name, the create body, and extra networks to join."""

    name: str
    body: Mapping[str, Any]
    networks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def replica_name(labels: Mapping[str, str], number: int) -> str:
    """``<project>-<service>-<number>``, as compose v2 names replicas.

    Raises:
        ScalingError: the labels are not a compose service's.
    """
    project, service = labels.get(COMPOSE_PROJECT, ""), labels.get(COMPOSE_SERVICE, "")
    if not project or not service:
        raise ScalingError(f"not a compose service: the container has no {COMPOSE_PROJECT}/{COMPOSE_SERVICE} labels")
    return f"{project}-{service}-{number}"


def _endpoint(settings: Mapping[str, Any], template_id: str) -> dict[str, Any]:
    """A create/connect endpoint config from an inspect endpoint: aliases and links, no fixed addresses."""
    aliases = [a for a in settings.get("Aliases") or [] if not (_HEX_ID.match(a) and template_id.startswith(a))]
    out: dict[str, Any] = {}
    if aliases:
        out["Aliases"] = aliases
    if settings.get("Links"):
        out["Links"] = list(settings["Links"])
    return out


def replica_spec(doc: Mapping[str, Any], number: int) -> ReplicaSpec:
    """The create request for a new replica numbered ``number`` like the container ``doc`` describes. Pure.

    Raises:
        ScalingError: the template is not a compose service's replica.
    """
    config: Mapping[str, Any] = doc.get("Config") or {}
    labels = dict(config.get("Labels") or {})
    name = replica_name(labels, number)
    labels[COMPOSE_NUMBER] = str(number)
    body: dict[str, Any] = {key: config[key] for key in _CONFIG_KEYS if key in config}
    body["Labels"] = labels
    host = dict(doc.get("HostConfig") or {})
    host.pop("ContainerIDFile", None)
    body["HostConfig"] = host
    template_id = str(doc.get("Id") or "")
    mode = str(host.get("NetworkMode") or "")
    networks: Mapping[str, Any] = (doc.get("NetworkSettings") or {}).get("Networks") or {}
    user_networks = {n: s or {} for n, s in networks.items() if n not in _BUILTIN_NETWORKS}
    extra: dict[str, Mapping[str, Any]] = {}
    if user_networks and not mode.startswith("container:"):
        primary = mode if mode in user_networks else next(iter(user_networks))
        body["NetworkingConfig"] = {"EndpointsConfig": {primary: _endpoint(user_networks[primary], template_id)}}
        extra = {n: _endpoint(s, template_id) for n, s in user_networks.items() if n != primary}
    return ReplicaSpec(name, body, extra)


def stop_timeout(doc: Mapping[str, Any]) -> int:
    """The container's own stop timeout (``--stop-timeout`` / compose ``stop_grace_period``), else Docker's 10 s."""
    value = (doc.get("Config") or {}).get("StopTimeout")
    return int(value) if isinstance(value, int) and value >= 0 else DEFAULT_STOP_TIMEOUT


def create_replica_like(engine: Engine, container_id: str, number: int) -> str:
    """Create and start a replica like ``container_id``, numbered ``number``; returns the new container's id.

    A replica that was created but would not start is removed again, so nothing half-made stays.

    Raises:
        ContainerNotFound: the template is gone.
        ScalingError: the template is not a compose replica, or the engine refused (name taken, no image ...).
    """
    doc = engine.inspect(container_id)
    spec = replica_spec(doc, number)
    api = engine.api
    try:
        created = engine.call(lambda: api.create_container_from_config(dict(spec.body), name=spec.name))
    except ObserveError as err:
        raise ScalingError(f"cannot create replica {spec.name}: {err}") from None
    new_id = str(created["Id"])
    try:
        for network, endpoint in spec.networks.items():
            def connect(network: str = network, endpoint: Mapping[str, Any] = endpoint) -> None:
                api.connect_container_to_network(new_id, network, aliases=endpoint.get("Aliases"),
                                                 links=endpoint.get("Links"))

            engine.call(connect, new_id)
        engine.call(lambda: api.start(new_id), new_id)
    except ObserveError as err:
        with contextlib.suppress(ObserveError):
            engine.call(lambda: api.remove_container(new_id, force=True, v=True), new_id)
        raise ScalingError(f"cannot start replica {spec.name}: {err}") from None
    log.info("replica created", extra={"event": "ReplicaCreated", "container": spec.name, "id": new_id,
                                       "template": str(doc.get("Name") or "").lstrip("/")})
    return new_id


def remove_replica(engine: Engine, container_id: str, timeout: float | None = None) -> None:
    """Stop a replica gracefully (its stop signal, then SIGKILL after ``timeout`` s) and remove it with its
    anonymous volumes. ``timeout`` None means the container's own stop timeout. A container already gone is fine.

    Raises:
        ScalingError: the engine refused.
    """
    api = engine.api
    try:
        doc = engine.inspect(container_id)
    except ContainerNotFound:
        return
    wait = stop_timeout(doc) if timeout is None else max(0, round(timeout))
    name = str(doc.get("Name") or "").lstrip("/")
    try:
        if (doc.get("State") or {}).get("Running"):
            engine.call(lambda: api.stop(container_id, timeout=wait), container_id)
        engine.call(lambda: api.remove_container(container_id, v=True), container_id)
    except ContainerNotFound:
        return
    except ObserveError as err:
        raise ScalingError(f"cannot remove replica {name}: {err}") from None
    log.info("replica removed", extra={"event": "ReplicaRemoved", "container": name, "id": container_id})
