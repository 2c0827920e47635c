"""Fixtures of the deploy tests: the observe image, built here by scripts/image.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("OBSERVE_IMAGE", "observe/observe:dev")


@pytest.fixture(scope="session")
def observe_image() -> str:
    """The observe image, built from this tree on the local base (a few seconds when the layers are cached)."""
    done = subprocess.run([str(ROOT / "scripts" / "image.sh")], cwd=ROOT, env={**os.environ, "OBSERVE_IMAGE": IMAGE},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"scripts/image.sh failed:\n{done.stderr[-3000:]}"
    return IMAGE
