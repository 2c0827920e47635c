"""The core knows Docker; nothing else does. Checked in a fresh interpreter, as imports really happen."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["observe", "observe.core", "observe.cli"])
def test_core_does_not_load_faces(module: str) -> None:
    loaded = loaded_after(module)
    assert not {"textual", "prometheus_client", "exporters", "tui"} & loaded


@pytest.mark.parametrize("module", ["exporters", "tui"])
def test_faces_do_not_load_docker(module: str) -> None:
    assert "docker" not in loaded_after(module)
