"""A fleet of engine hosts on one machine: dockerd instances with their own roots and sockets, and the processes
around them (observe, Prometheus, syslog-ng), each stopped and cleaned up by whoever started it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import docker

from tests.support.waiting import wait_for


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return int(proc.returncode)


@contextlib.contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A process with its stderr and stdout in ``log``, stopped when the block ends."""
    out: IO[bytes] = open(log, "ab")  # noqa: SIM115 (the process writes it until it stops)
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        stop_process(proc)
        out.close()


def _unmount_under(root: Path) -> None:
    """Unmount whatever an engine left mounted beneath ``root`` (deepest first)."""
    with open("/proc/self/mounts") as fh:
        points = [line.split()[1] for line in fh]
    for point in sorted((p for p in points if p.startswith(str(root) + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


@dataclass
class EngineHost:
    """One engine host: a dockerd with its own data root, exec root, pid file and socket."""

    name: str
    root: Path
    proc: subprocess.Popen[bytes]
    client: docker.DockerClient

    @property
    def url(self) -> str:
        return f"unix://{self.root}/docker.sock"


@contextlib.contextmanager
def engine_host(name: str, image: bytes) -> Iterator[EngineHost]:
    """Start a dockerd for host ``name`` (no bridge, no iptables), load ``image`` (a ``docker save`` archive)
    into it, and on leaving remove its containers, stop it and delete its roots."""
    root = Path(tempfile.mkdtemp(prefix=f"obsf-{name}-", dir="/tmp"))  # short: socket paths are limited
    log = open(root / "dockerd.log", "ab")  # noqa: SIM115 (dockerd writes it until it stops)
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "--pidfile", str(root / "dockerd.pid"), "-H", f"unix://{root}/docker.sock",
         "--bridge=none", "--iptables=false", "--ip-masq=false"],
        stdout=log, stderr=subprocess.STDOUT)
    client: docker.DockerClient | None = None
    sock = root / "docker.sock"
    try:
        def listens() -> bool:
            assert proc.poll() is None, f"dockerd of {name} exited: {(root / 'dockerd.log').read_text()[-2000:]}"
            with socket.socket(socket.AF_UNIX) as s:  # a plain socket: a failed client call leaks its own
                try:
                    s.connect(str(sock))
                except OSError:
                    return False
            return True

        wait_for(listens, f"dockerd of {name} to listen on {sock}", timeout=60, interval=0.2)
        client = docker.DockerClient(base_url=f"unix://{sock}", timeout=30)
        wait_for(client.ping, f"dockerd of {name} to answer")
        client.images.load(image)
        assert client.images.list(), f"{name}: the test image did not load"
        yield EngineHost(name, root, proc, client)
    finally:
        if client is not None:
            with contextlib.suppress(docker.errors.DockerException, OSError):
                for c in client.containers.list(all=True, sparse=True):  # no inspect each: none may be skipped
                    with contextlib.suppress(docker.errors.NotFound):
                        c.remove(force=True)
            client.close()
        stop_process(proc, timeout=60)
        log.close()
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def environment() -> dict[str, str]:
    """This environment less what would point a child at another engine."""
    return {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}


def lines_of(path: Path) -> list[str]:
    """The complete lines of a file another process is writing."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].decode(errors="replace").splitlines()


