"""What ``observe autoscale`` prints and ``/autoscale`` serves, from real decisions."""

from __future__ import annotations

import json

from exporters.autoscale.actuator import ScalePlan
from exporters.autoscale.decision import Decision, Replica
from exporters.autoscale.hpa import decide
from exporters.autoscale.policy_sources import policy_from_labels
from exporters.autoscale.report import DECISION_COLUMNS, render_decisions, render_plan
from observe.cli.common import dumps, render_table

T0 = 1_795_573_128.0


def _decision(service: str, cpu: float) -> Decision:
    policy = policy_from_labels(service, {"observe.autoscale.cpu": "50", "observe.autoscale.max": "5"})
    assert policy is not None
    return decide(policy, [Replica(f"{service}-{i}", {"cpu": cpu}) for i in (1, 2)], now=T0)


def test_table_shows_each_service_its_change_and_the_ignored_policies() -> None:
    decisions = [_decision("shop/web", 100.0), _decision("shop/api", 50.0)]
    text = render_decisions(decisions, ["bad policy"], "table", False, T0, render_table, dumps)
    lines = text.splitlines()
    assert lines[0].split() == [c for col in DECISION_COLUMNS for c in col.split()]
    web = next(line for line in lines if line.startswith("shop/web"))
    assert "2 -> 4" in web and "cpu 100%/50%" in web
    api = next(line for line in lines if line.startswith("shop/api"))
    assert " 2 " in api and "->" not in api
    assert lines[-1] == "ignored: bad policy"


def test_json_is_one_document_or_one_line_per_decision_when_watching() -> None:
    decisions = [_decision("shop/web", 100.0), _decision("shop/api", 50.0)]
    doc = json.loads(render_decisions(decisions, [], "json", False, T0, render_table, dumps))
    assert doc["services"]["shop/web"]["desired_replicas"] == 4
    assert doc["services"]["shop/web"]["value_location"] == "services.shop/web.desired_replicas"
    watched = render_decisions(decisions, [], "json", True, T0, render_table, dumps)
    assert [json.loads(line)["service"] for line in watched.splitlines()] == ["shop/web", "shop/api"]


def test_no_policy_says_so_and_plans_say_what_happens() -> None:
    assert "no service group" in render_decisions([], [], "table", False, T0, render_table, dumps)
    plan = ScalePlan("shop/web", 2, 1, refused="not a compose group")
    assert render_plan(plan, False, "table", dumps) == plan.describe()
    dry = ScalePlan("shop/web", 1, 2, template="web-1", create=(("abc", 2),))
    assert render_plan(dry, False, "table", dumps).startswith("dry run: shop/web: scale up from 1 to 2")
    assert json.loads(render_plan(dry, True, "json", dumps))["action"] == "apply"
