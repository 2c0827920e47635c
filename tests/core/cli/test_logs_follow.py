"""``observe logs -f`` with no names, as a user runs it: containers that start later, short-lived ones included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine


def _messages(out: Path) -> list[tuple[str, str]]:
    data = out.read_bytes() if out.exists() else b""
    complete = data[: data.rfind(b"\n") + 1]
    rows = [json.loads(line) for line in complete.splitlines() if line.strip()]
    return [(r["container.name"], r["message"]) for r in rows]


def test_follow_without_names_catches_short_lived_containers(tmp_path: Path, containers: Containers) -> None:
    out = tmp_path / "out.ndjson"
    containers.run("beacon", 'echo "beacon ready"; sleep 600')
    beacon = containers.name("beacon")
    with out.open("wb") as sink, (tmp_path / "err").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "observe", "logs", "-f", "--format", "json",
             "--label-selector", f"observe.test.case={containers.test_id}"],
            stdout=sink, stderr=err, env={**os.environ},
        )
    try:
        wait_for(lambda: (beacon, "beacon ready") in _messages(out), "the running container followed")
        total = 10
        for i in range(total):
            # The second line has no newline: the follow stream leaves it out; the reader must not.
            containers.run(f"short{i}", f'echo "short {i} a"; printf "short {i} b"')
        expected = Counter({(containers.name(f"short{i}"), f"short {i} {part}"): 1
                            for i in range(total) for part in "ab"})
        wait_for(lambda: sum(1 for m in _messages(out) if m in expected) >= len(expected),
                 "every line of the short-lived containers", timeout=60, interval=0.3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, (tmp_path / "err").read_text()
        got = Counter(m for m in _messages(out) if m[0] != beacon)
        assert got == expected
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
