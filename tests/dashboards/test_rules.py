"""The Prometheus rules: promtool checks them, promtool's unit tests cover every alert firing and not firing,
every alert reads like a runbook, and every metric they read is one we export or record."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.dashboards.queries import PROMTOOL, RULES, exported_names, metric_names, rule_files, rules

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
TESTS = sorted((RULES / "tests").glob("*.yml"))
EXPECTED_ALERTS = {
    "ContainerRestartingRepeatedly", "ContainerOOMKilled", "ContainerUnhealthy", "ContainerCPUThrottledHeavily",
    "ContainerMemoryNearLimit", "LogErrorRateHigh", "LogLinesLost", "ObserveSinkFailing", "ObserveSinkLagging",
    "ObserveExporterDown", "ObserveSweepsFailing", "ScaleRecommendationDiffers",
}


def alerts() -> dict[str, dict[str, object]]:
    return {r["alert"]: r for path in rule_files() for r in rules(path) if "alert" in r}


def recorded() -> set[str]:
    return {r["record"] for path in rule_files() for r in rules(path) if "record" in r}


@needs_promtool
@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "SUCCESS" in out.stdout, out.stdout + out.stderr


@needs_promtool
@pytest.mark.parametrize("path", TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests(path: Path) -> None:
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "SUCCESS" in out.stdout and "FAILED" not in out.stdout + out.stderr, \
        out.stdout + out.stderr


@needs_promtool
def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests are not vacuous: a test expecting nothing where an alert fires fails."""
    assert PROMTOOL is not None
    doc = yaml.safe_load((RULES / "tests" / "autoscaling_test.yml").read_text())
    doc["rule_files"] = [str(RULES / "autoscaling.yml")]
    for case in doc["tests"]:
        for check in case["alert_rule_test"]:
            check["exp_alerts"] = []
    (tmp_path / "t.yml").write_text(yaml.safe_dump(doc))
    out = subprocess.run([PROMTOOL, "test", "rules", "t.yml"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and "FAILED" in out.stdout + out.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = set(alerts())
    assert names == EXPECTED_ALERTS
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested not firing"


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_alerts_read_like_runbooks(name: str) -> None:
    rule = alerts()[name]
    annotations = rule["annotations"]
    labels = rule["labels"]
    assert isinstance(annotations, dict) and isinstance(labels, dict)
    assert {"summary", "description", "runbook"} <= set(annotations)
    assert labels["severity"] in ("info", "warning", "critical")
    steps = [line for line in str(annotations["runbook"]).splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(steps) >= 2, "a runbook has numbered steps"


def test_rules_read_only_exported_or_recorded_metrics() -> None:
    known = exported_names() | recorded() | {"up"}
    for path in rule_files():
        for r in rules(path):
            assert metric_names(r["expr"]) <= known, (path.name, r.get("alert") or r.get("record"),
                                                      metric_names(r["expr"]) - known)


def test_recording_rules_follow_the_naming_convention() -> None:
    """level:metric:operations (https://prometheus.io/docs/practices/rules/)."""
    for name in recorded():
        level, metric, ops = name.split(":")
        assert level == "service" and metric and ops, name
