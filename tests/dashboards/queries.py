"""Reading the dashboards' and rules' PromQL: the queries, the metric names they read, Grafana's macros.

The metric-name extractor is a small lexer, not a parser: strings, label matchers, ranges and
label lists (``by``/``without``/``on``/``ignoring``/``group_*``) are cut out, then every
identifier not followed by ``(`` and not a keyword is a metric name. Parsing itself is left to
promtool and Prometheus.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dashboards import DASHBOARD_FILES
from exporters import specs

ROOT = Path(__file__).resolve().parents[2] / "dashboards"
RULES = ROOT / "rules"
PROMTOOL = shutil.which("promtool")

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_TOKEN = re.compile(r"(?P<num>\d[\w.]*)|(?P<id>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<call>\s*\()?")
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
             "bool", "inf", "nan", "atan2"}
_SELECTOR = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?\{(?P<matchers>[^{}]*)\}")

GRAFANA_UNITS = {
    "none", "short", "percent", "percentunit", "bytes", "decbytes", "bits", "decbits", "Bps", "bps", "binBps",
    "s", "ms", "µs", "ns", "m", "h", "d", "dtdurations", "dtdurationms", "cps", "ops", "reqps", "rps", "wps",
    "iops", "cpm", "opm", "bool", "bool_yes_no", "bool_on_off", "dateTimeAsIso", "dateTimeFromNow", "hertz",
}


@dataclass(frozen=True)
class Query:
    """One query of a dashboard: the file, the panel, the target's refId and the PromQL."""

    file: str
    panel: str
    ref: str
    expr: str

    @property
    def key(self) -> str:
        return f"{self.file}:{self.panel}:{self.ref}"


def exported_names() -> set[str]:
    """Every metric name in exporters/specs.py: the rows of every table of MetricSpec, listed in ALL_SPECS or not."""
    names: set[str] = set()
    for value in vars(specs).values():
        if isinstance(value, tuple) and value and all(isinstance(v, specs.MetricSpec) for v in value):
            names |= {v.name for v in value}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (see the module docstring for how)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for m in _TOKEN.finditer(text):
        name = m.group("id")
        if name and not m.group("call") and name not in _KEYWORDS:
            names.add(name)
    return names


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, matcher text) of every selector with braces."""
    text = _STRING.sub(lambda m: m.group(0).replace("{", "(").replace("}", ")"), expr)
    return [(m.group("name") or "", m.group("matchers")) for m in _SELECTOR.finditer(text)]


def load(file: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / file).read_text(encoding="utf-8"))
    return data


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that is not a row (also those nested in collapsed rows)."""
    out = []
    for p in dashboard["panels"]:
        if p["type"] == "row":
            out += p.get("panels", [])
        else:
            out.append(p)
    return out


def dashboard_queries(dashboard: dict[str, Any], file: str) -> list[Query]:
    return [Query(file, p["title"], t["refId"], t["expr"]) for p in panels(dashboard) for t in p.get("targets", [])]


def all_queries() -> list[Query]:
    return [q for f in DASHBOARD_FILES for q in dashboard_queries(load(f), f)]


def variable_queries(dashboard: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Query variables: name -> (series selector, label) of their ``label_values(selector, label)``."""
    out = {}
    for v in dashboard["templating"]["list"]:
        if v["type"] != "query":
            continue
        query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", query)
        assert m, f"variable {v['name']}: not label_values(selector, label): {query}"
        out[v["name"]] = (m.group(1), m.group(2))
    return out


def unknown_metrics(dashboard: dict[str, Any], file: str, known: set[str]) -> list[str]:
    """'<query key>: <name>' for every metric name a panel or variable query reads that is not in ``known``."""
    problems = []
    for q in dashboard_queries(dashboard, file):
        problems += [f"{q.key}: {n}" for n in sorted(metric_names(q.expr) - known)]
    for name, (selector, _) in variable_queries(dashboard).items():
        problems += [f"{file}:${name}: {n}" for n in sorted(metric_names(selector) - known)]
    return problems


def substitute(expr: str, values: dict[str, str], rate_interval: str = "15s", range_: str = "1m") -> str:
    """Grafana's macros and variables replaced as Grafana would for a regex matcher."""
    text = expr.replace("$__rate_interval", rate_interval).replace("$__range", range_)
    text = text.replace("$__interval", "5s")
    for name in sorted(values, key=len, reverse=True):
        text = text.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    assert "$" not in text, f"unsubstituted variable in {text}"
    return text


def check_parse(exprs: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """``promtool check rules`` over a rule file holding each expression as a recording rule (name: key)."""
    assert PROMTOOL, "promtool is not installed"
    rules = [{"record": f"check:expr_{i}", "expr": e, "labels": {"query": k}} for i, (k, e) in enumerate(exprs.items())]
    path = tmp / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-expressions", "rules": rules}]}))
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yml"))


def rules(path: Path) -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
