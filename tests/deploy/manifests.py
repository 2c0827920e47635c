"""Reading the deploy files: the Dockerfile's instructions, the compose file, the systemd unit, the manifests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
UNIT = DEPLOY / "systemd" / "observe.service"
KUBERNETES = DEPLOY / "kubernetes" / "observe.yaml"

# Where the host's roots go inside observe's container, the same in every form.
HOST_MOUNTS = {
    "/var/run/docker.sock": "/var/run/docker.sock",
    "/sys/fs/cgroup": "/host/sys/fs/cgroup",
    "/proc": "/host/proc",
    "/var/lib/docker/containers": "/var/lib/docker/containers",
}
READ_ONLY = {"/host/sys/fs/cgroup", "/host/proc", "/var/lib/docker/containers"}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in dockerfile():
        if word == "ENV":
            env.update(dict(pair.split("=", 1) for pair in rest.split()))
    return env


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def unit() -> dict[str, dict[str, list[str]]]:
    """The unit as section -> key -> every value given (systemd allows a key many times)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections.setdefault(current, {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current, f"{UNIT}: not key=value in a section: {raw!r}"
        sections[current].setdefault(key.strip(), []).append(value.strip())
    return sections


def kubernetes() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(KUBERNETES.read_text()) if d]


def kind(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == name]
    assert len(found) == 1, f"{KUBERNETES}: {len(found)} documents of kind {name}"
    return found[0]
