"""One collector per state directory: a second ``observe run`` on it waits for the first, then refuses.

Two collectors on one state directory would ship every line twice and overwrite each other's
checkpoints.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine


def second_run(state: Path, case: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "observe", "run", "--no-exporter", "--state-dir", str(state), "--stop-timeout", "1s",
         "--sink", f"file://{out}", "--label-selector", f"observe.test.case={case}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_second_collector_on_one_state_dir_is_refused(tmp_path: Path, containers: Containers, workers: str) -> None:
    first = CollectorProcess(tmp_path / "a", containers.test_id, "--workers", workers)
    (tmp_path / "a").mkdir()
    try:
        first.start()
        first.wait_ready()
        assert first.proc is not None
        started = time.monotonic()
        other = second_run(first.state, containers.test_id, tmp_path / "b.ndjson")
        _, err = other.communicate(timeout=60)
        waited = time.monotonic() - started
        assert other.returncode == 2, err
        last = err.strip().splitlines()[-1]
        assert f"another observe run (pid {first.proc.pid}) is using {first.state}" in last, err
        assert '"StateDirBusy"' in err and 5 <= waited < 30, f"waited {waited:.1f}s for the first to stop"
        assert not (tmp_path / "b.ndjson").exists() or not (tmp_path / "b.ndjson").read_bytes()
        assert first.stop() == 0
    finally:
        first.close()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_collector_waiting_for_the_state_dir_starts_once_the_first_is_gone(tmp_path: Path, containers: Containers,
                                                                             how: signal.Signals) -> None:
    containers.run("lines", 'i=0; while [ $i -lt 200 ]; do echo "n=$i"; i=$((i+1)); done; sleep 600')
    first = CollectorProcess(tmp_path, containers.test_id)
    try:
        first.start()
        first.wait_ready()
        wait_for(lambda: len(first.messages(containers.name("lines"))) == 200, "the first collector's lines")
        other = second_run(first.state, containers.test_id, tmp_path / "b.ndjson")
        time.sleep(1.5)  # it waits for the lock: proving it waits takes a while
        assert other.poll() is None
        first.stop(how)
        wait_for(lambda: '"CollectorStarted"' in (other.stderr.readline() if other.stderr else ""),
                 "the second collector running", timeout=30)
        other.send_signal(signal.SIGTERM)
        other.communicate(timeout=30)
        assert other.returncode == 0
        # It took over the checkpoints: after a SIGTERM, the lines the first shipped are not shipped again
        # (after a SIGKILL, those after its last saved checkpoint may be: at least once).
        again = (tmp_path / "b.ndjson").read_text().splitlines() if (tmp_path / "b.ndjson").exists() else []
        if how == signal.SIGTERM:
            assert again == []
        assert {json.loads(line)["message"] for line in again} <= {f"n={i}" for i in range(200)}
    finally:
        first.close()
