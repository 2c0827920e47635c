"""Exec end to end in a real terminal: tmux runs ``observe tui``, a key opens a shell in a test container,
a command typed there prints its result, ``exit`` comes back to the TUI."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.engine,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]
ROOT = Path(__file__).resolve().parents[2]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def test_shell_in_a_container_and_back(containers: Containers) -> None:
    c = containers.run("shell")
    session = f"observe-tui-{uuid.uuid4().hex[:8]}"
    command = (f"cd {shlex.quote(str(ROOT))} && OBSERVE_LABEL_SELECTOR=observe.test.case={containers.test_id} "
               f"{shlex.quote(sys.executable)} -m observe tui --log-level warning")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "40", command], check=True)
    try:
        def screen() -> str:
            return tmux("capture-pane", "-p", "-t", session)

        wait_for(lambda: c.name in screen() and "running" in screen(), "the container's row in the TUI")
        tmux("send-keys", "-t", session, "e")
        wait_for(lambda: "/ #" in screen(), "the shell's prompt")
        tmux("send-keys", "-t", session, "echo marker-$((6*7)) $(hostname)", "Enter")
        wait_for(lambda: f"marker-42 {c.id[:12]}" in screen(), "the command's output, from inside the container")
        tmux("send-keys", "-t", session, "exit", "Enter")
        wait_for(lambda: "exited with code 0" in " ".join(screen().replace("▌", " ").split()),
                 "the TUI back, saying the shell exited")
        assert c.name in screen() and "Restart" in screen()
        tmux("send-keys", "-t", session, "q")
        wait_for(lambda: subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode != 0,
                 "the TUI to quit on q (its tmux session ends with it)")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
