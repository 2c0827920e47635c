"""The dashboards as files: generated = committed, valid against the dashboard model's schema, lint rules,
every query parses and reads only metrics our exporter exports (a renamed metric fails here)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dashboards import DASHBOARD_FILES, build
from tests.dashboards.queries import (
    GRAFANA_UNITS,
    PROMTOOL,
    ROOT,
    all_queries,
    check_parse,
    dashboard_queries,
    exported_names,
    load,
    metric_names,
    panels,
    selectors,
    substitute,
    unknown_metrics,
    variable_queries,
)

SCHEMA = json.loads((Path(__file__).parent / "dashboard.schema.json").read_text())
AUTOSCALE_NAMES = ("observe_autoscale_current_replicas", "observe_autoscale_desired_replicas",
                   "observe_autoscale_metric_value", "observe_autoscale_metric_target", "observe_autoscale_limited")
ANY = {"job": ".+", "instance": ".+", "service": ".+", "container": ".+", "datasource": "x"}
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


def test_committed_files_are_the_generated_ones() -> None:
    generated = build.rendered()
    assert sorted(generated) == sorted(DASHBOARD_FILES)
    for name, text in generated.items():
        assert (ROOT / name).read_text(encoding="utf-8") == text, f"{name} is stale: run python -m dashboards.build"


@pytest.mark.parametrize("file", DASHBOARD_FILES)
def test_valid_against_the_dashboard_schema(file: str) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(load(file))


def test_schema_rejects_what_grafana_would() -> None:
    """The schema is not vacuous: a panel wider than the grid, a bad variable type and a missing uid fail."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    d = load("host-overview.json")
    wide, bad_var, no_uid = copy.deepcopy(d), copy.deepcopy(d), copy.deepcopy(d)
    panels(wide)[0]["gridPos"]["w"] = 25
    bad_var["templating"]["list"][1]["type"] = "select"
    del no_uid["uid"]
    for broken in (wide, bad_var, no_uid):
        assert not validator.is_valid(broken)


@pytest.mark.parametrize("file", DASHBOARD_FILES)
def test_model_and_lint_rules(file: str) -> None:
    """The Classic model's essentials and grafana/dashboard-linter's default rules."""
    d = load(file)
    assert d["schemaVersion"] >= 39 and d["id"] is None and d["uid"].startswith("observe-")
    assert [i["name"] for i in d["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    ds = variables["datasource"]
    assert (ds["type"], ds["query"], ds["label"]) == ("datasource", "prometheus", "Data source")
    for name in ("job", "instance", "service"):
        v = variables[name]
        assert v["type"] == "query" and v["multi"] and v["includeAll"] and v["allValue"] == ".+"
        assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    text = json.dumps(d)
    # the only data source uids: the variable, and Grafana's built-in annotation source
    assert set(re.findall(r'"uid": "([^"]*)"', text)) - {d["uid"]} == {"${datasource}", "-- Grafana --"}
    assert "${DS_PROMETHEUS}" not in json.dumps(panels(d))
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels(d):
        where = f"{file}: {p['title']}"
        assert p["title"] and p["description"], where
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert p["fieldConfig"]["defaults"].get("unit") in GRAFANA_UNITS, where
        assert p["targets"], where
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, where
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"], where
            for name, matchers in selectors(t["expr"]):
                assert 'job=~"$job"' in matchers and 'instance=~"$instance"' in matchers, (where, name)
            for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*_total)\{[^}]*\}(\[[^\]]*\])?", t["expr"]):
                before = t["expr"][: m.start()]
                assert re.search(r"\b(rate|increase)\($", before), (where, "counter outside rate/increase", m[1])
                assert m[2] in ("[$__rate_interval]", "[$__range]"), (where, m[0])


@pytest.mark.parametrize("file", DASHBOARD_FILES)
def test_every_metric_is_exported(file: str) -> None:
    assert unknown_metrics(load(file), file, exported_names()) == []


def test_autoscaling_names_come_from_specs() -> None:
    """The Autoscaling dashboard and alert are built on these names; they must be rows of exporters/specs.py."""
    missing = [n for n in AUTOSCALE_NAMES if n not in exported_names()]
    assert not missing, f"exporters/specs.py does not export {missing} (yet?)"
    used = {n for q in dashboard_queries(load("autoscaling.json"), "autoscaling.json") for n in metric_names(q.expr)}
    assert set(AUTOSCALE_NAMES) <= used


def typo(name: str) -> str:
    return name.replace("_", "__", 1)


@pytest.mark.parametrize("file", DASHBOARD_FILES)
def test_a_typo_in_a_metric_name_fails_the_check(file: str) -> None:
    """A deliberate typo in the first metric of each panel is reported, naming the panel and the name."""
    known = exported_names()
    for index, panel in enumerate(panels(load(file))):
        d = load(file)
        target = panels(d)[index]["targets"][0]
        name = sorted(metric_names(target["expr"]))[0]
        target["expr"] = re.sub(rf"\b{name}\b", typo(name), target["expr"])
        assert unknown_metrics(d, file, known) == [f"{file}:{panel['title']}:{target['refId']}: {typo(name)}"]


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (level) (rate(observe_log_lines_total{job=~"$job", level="error"}[5m]))', {"observe_log_lines_total"}),
    ("a / on(job, id) group_left(service) b{x=\"{y}\"} > 1e3 and c offset 5m", {"a", "b", "c"}),
    ('topk(10, x) or vector(0) unless absent(y{z="or"})', {"x", "y"}),
    ("time() - max without (cpu) (container_start_time_seconds)", {"container_start_time_seconds"}),
])
def test_metric_name_extraction(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


@needs_promtool
def test_every_query_parses(tmp_path: Path) -> None:
    exprs = {q.key: substitute(q.expr, ANY) for q in all_queries()}
    for file in DASHBOARD_FILES:
        for name, (selector, _) in variable_queries(load(file)).items():
            exprs[f"{file}:${name}"] = substitute(selector, ANY)
    out = check_parse(exprs, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in out.stdout


@needs_promtool
def test_a_broken_query_does_not_parse(tmp_path: Path) -> None:
    q = all_queries()[0]
    out = check_parse({q.key: substitute(q.expr, ANY).replace(")", "", 1)}, tmp_path)
    assert out.returncode != 0 and "parse error" in out.stdout + out.stderr


def test_variables_chain_from_job_to_container() -> None:
    d = load("container-detail.json")
    v = variable_queries(d)
    assert v["instance"][1] == "instance" and 'job=~"$job"' in v["instance"][0]
    assert v["service"][1] == "service" and 'instance=~"$instance"' in v["service"][0]
    assert v["container"][1] == "name" and 'service=~"$service"' in v["container"][0]


def dashboards_json() -> dict[str, Any]:
    return {f: load(f) for f in DASHBOARD_FILES}


def test_the_four_dashboards_have_the_panels_the_issue_lists() -> None:
    titles = {f: {p["title"] for p in panels(d)} for f, d in dashboards_json().items()}
    assert {"Running", "Stopped", "Unhealthy", "CPU (top 10)", "Memory working set (top 10)",
            "Network received + sent (top 10)", "Block I/O read + written (top 10)", "Restarts", "OOM killed",
            "CPU throttling"} <= titles["host-overview.json"]
    assert {"CPU against limit", "Memory working set against limit", "Network", "Block I/O", "Restarts",
            "Log lines by level"} <= titles["container-detail.json"]
    assert {"Log lines by level", "Log lines by service", "Error ratio by service",
            "Truncated, invalid and lost lines", "Connected", "Lag"} <= titles["logs.json"]
    assert {"Current and desired replicas", "Metric against target",
            "What held the decision back"} <= titles["autoscaling.json"]
    assert "container" in {v["name"] for v in dashboards_json()["container-detail.json"]["templating"]["list"]}
