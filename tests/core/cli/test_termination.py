"""SIGTERM at any moment of a collector's life, also during its start-up, is a clean stop.

A supervisor (systemd, ``observe run --workers``, an orchestrator) may stop a collector it has
just started. The process must not die of the signal half-way through its imports: it notes
the request, starts, drains and exits 0. Commands that do not wait for SIGTERM still die of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RUN_ID, RUN_LABEL

pytestmark = pytest.mark.engine


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "observe", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=dict(os.environ))


def _run_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--no-exporter", "--sink", f"file://{tmp_path / 'out.ndjson'}", "--state-dir",
            str(tmp_path / "state"), "--label-selector", f"{RUN_LABEL}={RUN_ID}-none", *extra]


@pytest.mark.parametrize("delay", [0.25, 0.45, 0.8])
def test_run_told_to_stop_while_starting_exits_cleanly(tmp_path: Path, delay: float) -> None:
    proc = _spawn(*_run_args(tmp_path))
    time.sleep(delay)  # deliberately early: during observe's imports or its start (the interpreter takes ~0.15 s)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_supervisor_and_workers_told_to_stop_while_starting_exit_cleanly(tmp_path: Path) -> None:
    proc = _spawn(*_run_args(tmp_path, "--workers", "2"))
    deadline = time.monotonic() + 20
    assert proc.stderr is not None
    seen = b""
    while b"WorkersStarted" not in seen and time.monotonic() < deadline:  # the workers are being started now
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    err = (seen + rest).decode()
    assert b"WorkersStarted" in seen
    assert proc.returncode == 0, err
    assert "CollectorStoppedEarly" not in err and "Traceback" not in err


@pytest.mark.parametrize("delay", [0.25, 0.8])
def test_exporter_told_to_stop_while_starting_exits_cleanly(delay: float) -> None:
    proc = _spawn("exporter", "--listen", "127.0.0.1:0", "--label-selector", f"{RUN_LABEL}={RUN_ID}-none")
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_other_commands_still_die_of_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "observe", "events"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
