"""``observe dashboards export DIR``: the files a user gets, laid out for Grafana and Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dashboards import DASHBOARD_FILES, export, shipped_files
from observe.errors import ConfigError
from tests.dashboards.queries import ROOT, rule_files


def test_export_lays_out_grafana_and_prometheus_files(tmp_path: Path) -> None:
    written = export(tmp_path / "out")
    rel = {p.relative_to(tmp_path / "out").as_posix() for p in written}
    assert {f"grafana/dashboards/{f}" for f in DASHBOARD_FILES} <= rel
    assert {"grafana/provisioning/dashboards/observe.yaml", "grafana/provisioning/datasources/observe.yaml",
            "prometheus/prometheus.yml"} <= rel
    assert {f"prometheus/rules/{p.name}" for p in rule_files()} <= rel
    assert {f"prometheus/rules/tests/{p.name}" for p in (ROOT / "rules" / "tests").glob("*.yml")} <= rel
    for f in DASHBOARD_FILES:
        assert json.loads((tmp_path / "out/grafana/dashboards" / f).read_text()) == json.loads((ROOT / f).read_text())
    provider = yaml.safe_load((tmp_path / "out/grafana/provisioning/dashboards/observe.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_exported_prometheus_config_finds_the_rules(tmp_path: Path) -> None:
    export(tmp_path)
    out = subprocess.run(["promtool", "check", "config", "prometheus/prometheus.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rule_files())} rule files found" in out.stdout, out.stdout
    tests = subprocess.run(["promtool", "test", "rules", *sorted(p.name for p in
                                                                 (tmp_path / "prometheus/rules/tests").iterdir())],
                           cwd=tmp_path / "prometheus/rules/tests", capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_export_never_overwrites_without_force(tmp_path: Path) -> None:
    export(tmp_path)
    export(tmp_path)  # the same content again is fine
    edited = tmp_path / "grafana/dashboards/logs.json"
    edited.write_text("{}")
    with pytest.raises(ConfigError, match="--force"):
        export(tmp_path)
    assert edited.read_text() == "{}"
    export(tmp_path, force=True)
    assert edited.read_bytes() == shipped_files()["grafana/dashboards/logs.json"]


def test_export_into_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match="not a directory"):
        export(tmp_path / "f")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVE_")}
    return subprocess.run([sys.executable, "-m", "observe", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_cli_export(tmp_path: Path) -> None:
    out = run_cli("dashboards", "export", str(tmp_path / "d"))
    assert out.returncode == 0, out.stderr
    printed = out.stdout.splitlines()
    assert str(tmp_path / "d/grafana/dashboards/host-overview.json") in printed
    assert all(Path(p).is_file() for p in printed)
    (tmp_path / "file").write_text("")
    bad = run_cli("dashboards", "export", str(tmp_path / "file"))
    assert bad.returncode == 2 and bad.stderr.startswith("observe: cannot export dashboards") and \
        len(bad.stderr.splitlines()) == 1
