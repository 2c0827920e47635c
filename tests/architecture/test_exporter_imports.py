"""The exporter's modules never load docker; the CLI's parser never loads the exporter face."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded(code: str) -> set[str]:
    full = f"import sys\n{code}\nprint('\\n'.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", full], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["exporters.prometheus", "exporters.server", "exporters.specs", "observe.stats"])
def test_exporter_modules_do_not_load_docker(module: str) -> None:
    assert "docker" not in loaded(f"import {module}")


def test_cli_parser_does_not_load_faces() -> None:
    got = loaded("from observe.cli import build_parser\nbuild_parser()")
    assert not {"prometheus_client", "exporters", "textual", "tui"} & got
