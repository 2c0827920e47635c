"""The deploy files, for structure: every form mounts the same host roots, runs the same command, finds the
shipped dashboards and rules where `observe dashboards export` puts them, and passes the real tools' checks
that work without running it (docker-compose config, systemd-analyze, promtool, observe's own config loader)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards import shipped_files
from dashboards.render import GRAFANA_VERSION
from observe.config import OPTIONS, load_config
from tests.deploy.manifests import (
    COMPOSE,
    HOST_MOUNTS,
    READ_ONLY,
    compose,
    dockerfile,
    dockerfile_env,
    kind,
    kubernetes,
    unit,
)

OBSERVE_ENV = {o.env for o in OPTIONS}


# -- the image ---------------------------------------------------------------------------------

def test_dockerfile_is_multi_stage_on_a_chosen_base_with_a_healthcheck() -> None:
    steps = dockerfile()
    assert steps[0] == ("ARG", "BASE=python:3.11-slim")
    froms = [rest for word, rest in steps if word == "FROM"]
    assert froms == ["${BASE} AS build", "${BASE}"]
    assert any(w == "COPY" and r.startswith("--from=build /opt/observe") for w, r in steps)
    (health,) = [r for w, r in steps if w == "HEALTHCHECK"]
    assert "/healthz" in health and "curl" not in health and "OBSERVE_LISTEN" in health
    assert ("ENTRYPOINT", '["observe"]') in steps and ("CMD", '["run"]') in steps
    assert ("VOLUME", "/var/lib/observe") in steps
    env = dockerfile_env()
    assert env["OBSERVE_STATE_DIR"] == "/var/lib/observe"
    assert env["OBSERVE_CGROUP_ROOT"] == HOST_MOUNTS["/sys/fs/cgroup"]
    assert env["OBSERVE_PROC_ROOT"] == HOST_MOUNTS["/proc"]
    observe_env = {k: v for k, v in env.items() if k.startswith("OBSERVE_")}
    assert set(observe_env) <= OBSERVE_ENV
    load_config({}, env=observe_env)  # every value is one observe accepts


def test_dockerignore_sends_only_what_the_image_installs() -> None:
    lines = [x for x in (Path(__file__).resolve().parents[2] / ".dockerignore").read_text().splitlines()
             if x and not x.startswith("#")]
    assert lines[0] == "*"
    assert "!tests" not in lines and "!.git" not in lines
    assert {"!pyproject.toml", "!observe", "!exporters", "!tui", "!dashboards"} <= set(lines)


# -- compose -----------------------------------------------------------------------------------

def _volumes(service: dict[str, object]) -> dict[str, tuple[str, str]]:
    """target -> (source, mode) of a compose service's short-syntax volumes."""
    out = {}
    for spec in service.get("volumes", []):  # type: ignore[attr-defined]
        source, target, *mode = str(spec).split(":")
        out[target] = (source, mode[0] if mode else "rw")
    return out


def test_compose_observe_has_the_host_mounts_and_a_state_volume() -> None:
    doc = compose()
    observe = doc["services"]["observe"]
    assert observe["command"] == ["run"] and observe["network_mode"] == "host"
    mounts = _volumes(observe)
    for source, target in HOST_MOUNTS.items():
        assert mounts[target][0] == source, target
        assert (mounts[target][1] == "ro") == (target in READ_ONLY), target
    assert mounts["/var/lib/observe"][0] in doc["volumes"]
    assert set(observe["environment"]) <= OBSERVE_ENV
    assert observe["build"]["context"] == ".." and "BASE" in observe["build"]["args"]


def test_compose_prometheus_and_grafana_read_the_shipped_files() -> None:
    doc = compose()
    services = doc["services"]
    export = services["dashboards"]
    target = export["entrypoint"][3]
    assert export["entrypoint"][:3] == ["observe", "dashboards", "export"]
    shipped_volume = _volumes(export)[target][0]
    files = set(shipped_files())

    prometheus = services["prometheus"]
    assert prometheus["depends_on"]["dashboards"]["condition"] == "service_completed_successfully"
    (config,) = [a.split("=", 1)[1] for a in prometheus["command"] if a.startswith("--config.file=")]
    root = next(t for t, (s, _) in _volumes(prometheus).items() if s == shipped_volume)
    assert config.startswith(root + "/") and config.removeprefix(root + "/") in files

    grafana = services["grafana"]
    assert grafana["image"].endswith(":" + GRAFANA_VERSION)
    mounts = {t: s for t, (s, _) in _volumes(grafana).items()}
    provisioning = grafana["environment"]["GF_PATHS_PROVISIONING"]
    root = next(t for t, s in mounts.items() if s == shipped_volume and provisioning.startswith(t + "/"))
    rel = provisioning.removeprefix(root + "/")
    assert {f"{rel}/dashboards/observe.yaml", f"{rel}/datasources/observe.yaml"} <= files
    provider = yaml.safe_load(shipped_files()[f"{rel}/dashboards/observe.yaml"])["providers"][0]
    # The provider walks its folder recursively: the whole export mounted there holds the dashboards.
    assert mounts.get(provider["options"]["path"]) == shipped_volume
    assert any(f.startswith("grafana/dashboards/") and f.endswith(".json") for f in files)
    # The shipped files name 127.0.0.1 addresses: they hold because every service shares the host's network.
    assert all(s["network_mode"] == "host" for n, s in services.items() if n != "dashboards")


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_compose_file_passes_docker_compose_config() -> None:
    done = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                          env={**os.environ, "GRAFANA_ADMIN_PASSWORD": "x"}, timeout=60)
    assert done.returncode == 0, done.stderr
    missing = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "GRAFANA_ADMIN_PASSWORD"}, timeout=60)
    assert missing.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in missing.stderr


# -- systemd -----------------------------------------------------------------------------------

def test_unit_is_hardened_and_keeps_state_in_its_state_directory() -> None:
    sections = unit()
    service = sections["Service"]

    def one(key: str) -> str:
        assert len(service[key]) == 1, key
        return service[key][0]

    assert one("ExecStart").split()[1:] == ["run"]
    assert one("NoNewPrivileges") == "yes" and one("ProtectSystem") == "strict"
    assert one("ProtectHome") == "yes" and one("PrivateTmp") == "yes"
    read_only = one("ReadOnlyPaths").split()
    assert {"/var/lib/docker/containers", "/sys/fs/cgroup", "/proc"} <= set(read_only)
    env = dict(v.split("=", 1) for v in service["Environment"])
    assert env["OBSERVE_STATE_DIR"] == "/var/lib/" + one("StateDirectory")
    assert set(env) - {"PYTHONUNBUFFERED"} <= OBSERVE_ENV
    assert one("EnvironmentFile").startswith("-")  # optional
    assert "docker.service" in sections["Unit"]["After"][0]
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.fixture
def installed_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart naming the observe installed here (verify checks that it exists)."""
    observe = shutil.which("observe")
    assert observe, "observe is not on PATH"
    text = (Path(__file__).resolve().parents[2] / "deploy/systemd/observe.service").read_text()
    path = tmp_path / "observe.service"
    path.write_text(text.replace("/usr/local/bin/observe", observe))
    return path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze(installed_unit: Path) -> None:
    verify = subprocess.run(["systemd-analyze", "verify", str(installed_unit)], capture_output=True, text=True,
                            timeout=60)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(installed_unit)],
                              capture_output=True, text=True, timeout=60)
    assert security.returncode == 0, security.stderr
    last = security.stdout.strip().splitlines()[-1]
    score = float(last.split("observe.service:")[1].split()[0])
    assert score <= 3.0, last  # systemd calls up to 3.9 "OK"; 10 is an unhardened service


# -- Kubernetes --------------------------------------------------------------------------------

def test_manifests_hold_a_daemonset_with_its_account_config_and_service() -> None:
    docs = kubernetes()
    assert {d["kind"] for d in docs} == {"Namespace", "ServiceAccount", "ConfigMap", "DaemonSet", "Service"}
    namespace = kind(docs, "Namespace")["metadata"]["name"]
    assert all(d["metadata"].get("namespace") == namespace for d in docs if d["kind"] != "Namespace")
    account, config, daemonset, service = (kind(docs, k) for k in ("ServiceAccount", "ConfigMap", "DaemonSet",
                                                                   "Service"))
    assert account["automountServiceAccountToken"] is False
    pod = daemonset["spec"]["template"]
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    spec = pod["spec"]
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    (container,) = spec["containers"]
    assert container["args"] == ["run"]
    assert [e["configMapRef"]["name"] for e in container["envFrom"]] == [config["metadata"]["name"]]

    env = {e["name"]: e for e in container["env"]}
    assert env["OBSERVE_HOST_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert set(config["data"]) | set(env) <= OBSERVE_ENV
    load_config({}, env={**config["data"], "OBSERVE_LISTEN": env["OBSERVE_LISTEN"]["value"]})

    (port,) = container["ports"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port["containerPort"]
    assert env["OBSERVE_LISTEN"]["value"].endswith(f":{port['containerPort']}")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_daemonset_mounts_the_nodes_roots_read_only_and_drops_privileges() -> None:
    spec = kind(kubernetes(), "DaemonSet")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert all(m["name"] in volumes for m in mounts.values())
    for source, target in HOST_MOUNTS.items():
        mount = mounts[target]
        assert volumes[mount["name"]]["hostPath"]["path"] == source, target
        assert mount.get("readOnly", False) == (target in READ_ONLY), target
    assert "/var/lib/observe" in mounts  # checkpoints
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert "/tmp" in mounts  # the only writable path besides the state
