"""The CLI as a user runs it: a subprocess against the real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import docker
import pytest

from tests.conftest import RUN_ID, RUN_LABEL, Containers

pytestmark = pytest.mark.engine


def observe(*args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "observe", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def test_ps_json_matches_docker_inspect(containers: Containers, docker_client: docker.DockerClient) -> None:
    containers.run("ps", labels={"com.docker.compose.project": "p", "com.docker.compose.service": "s"})
    stopped = containers.run("ps-exited", "exit 3")
    stopped.wait()
    out = observe("ps", "--format", "json", "-a", "--label-selector", f"{RUN_LABEL}={RUN_ID}",
                  "--name", containers.name("*"))
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {containers.name("ps"), containers.name("ps-exited")}
    for name in rows:
        doc: dict[str, Any] = docker_client.api.inspect_container(name)
        row = rows[name]
        assert row["id"] == doc["Id"]
        assert row["image"] == doc["Config"]["Image"]
        assert row["state"] == doc["State"]["Status"]
        assert row["restarts"] == doc["RestartCount"]
        assert row["exit_code"] == doc["State"]["ExitCode"]
        assert row["started_at"][:19] == doc["State"]["StartedAt"][:19]
    assert rows[containers.name("ps")]["service"] == "p/s"
    assert rows[containers.name("ps")]["uptime_seconds"] >= 0
    assert rows[containers.name("ps-exited")]["exit_code"] == 3
    assert rows[containers.name("ps-exited")]["uptime_seconds"] is None
    no_all = observe("ps", "--format", "json", "--label-selector", f"{RUN_LABEL}={RUN_ID}",
                     "--name", containers.name("*"))
    assert [r["name"] for r in json.loads(no_all.stdout)] == [containers.name("ps")]
    table = observe("ps", "--name", containers.name("ps"))
    assert table.returncode == 0 and containers.name("ps") in table.stdout and "p/s" in table.stdout


def test_inspect_by_name_and_missing(containers: Containers) -> None:
    c = containers.run("insp")
    out = observe("inspect", containers.name("insp"), "--format", "json")
    assert out.returncode == 0 and json.loads(out.stdout)["Id"] == c.id
    missing = observe("inspect", "no-such-container-" + RUN_ID)
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "no such container" in missing.stderr


def test_events_stream_json_lines(containers: Containers) -> None:
    with subprocess.Popen([sys.executable, "-m", "observe", "events", "--name", "obs-*-evt*"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        _read_events(proc, containers)


def _read_events(proc: subprocess.Popen[str], containers: Containers) -> None:
    try:
        assert proc.stdout is not None
        import time

        time.sleep(1.5)  # let the command list and subscribe before the container exists
        c = containers.run("evt", "exit 0")
        c.wait()
        actions = []
        for line in proc.stdout:
            event = json.loads(line)
            assert event["container.name"] == containers.name("evt")
            actions.append(event["event.action"])
            if event["event.action"] == "die":
                assert event["container.exit_code"] == 0
                break
        assert actions[:2] == ["create", "start"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_unreachable_engine_one_line_exit_2(tmp_path: Any) -> None:
    out = observe("ps", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert f"unix://{tmp_path}/none.sock" in out.stderr and "dockerd" in out.stderr
    sock = tmp_path / "locked.sock"
    import socket

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    server.listen()
    os.chmod(sock, 0)
    try:
        # Without the capability to override file modes, as a user outside the docker group.
        res = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                              "observe", "ps", "--docker-host", f"unix://{sock}"],
                             capture_output=True, text=True, timeout=30)
    finally:
        server.close()
    assert res.returncode == 2, res.stderr
    assert "permission denied" in res.stderr and "'docker' group" in res.stderr
    assert res.stderr.count("\n") == 1


def test_bad_configuration_one_line_exit_2(tmp_path: Any) -> None:
    for args, env, needle in [
        (["ps", "--interval", "fast"], {}, "--interval"),
        (["ps"], {"OBSERVE_LOG_FORMAT": "xml"}, "--log-format"),
        (["ps", "--label-selector", "app=,,"], {}, "--label-selector"),
        (["config", "--config", str(tmp_path / "nope.toml")], {}, "config file"),
    ]:
        out = observe(*args, env=env)
        assert out.returncode == 2, (args, out.stderr)
        assert needle in out.stderr and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_config_shows_sources(tmp_path: Any) -> None:
    toml = tmp_path / "o.toml"
    toml.write_text('state-dir = "/tmp/x"\n')
    out = observe("config", "--format", "json", "--config", str(toml), "--interval", "2s",
                  env={"OBSERVE_LOG_LEVEL": "debug"})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["interval"] == {"value": 2.0, "source": "flag"}
    assert data["log_level"] == {"value": "debug", "source": "env OBSERVE_LOG_LEVEL"}
    assert data["state_dir"] == {"value": "/tmp/x", "source": f"file {toml}"}
    assert data["listen"]["source"] == "default"


def test_version() -> None:
    out = observe("--version")
    assert out.returncode == 0 and out.stdout.startswith("observe ")
