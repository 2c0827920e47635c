"""Without a working C compiler the install still succeeds, with the log path's modules interpreted."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_build_without_a_compiler_gives_the_interpreted_modules(tmp_path: Path) -> None:
    source = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(source)], check=True)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                           "-w", str(tmp_path / "out"), str(source)],
                          env={**os.environ, "CC": "/bin/false"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = next((tmp_path / "out").glob("observe_docker-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "observe/logs/pipeline.py" in names
    assert not [n for n in names if n.endswith(".so")], "a compiled module without a compiler"
