"""Autoscaling policies: parsing from the config file and from labels, validation, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporters.autoscale.policy import (
    CPU,
    CPU_CORES,
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    ERROR_RATE,
    MEMORY,
    MetricTarget,
    Policy,
    PolicyError,
    RatePolicy,
    RateType,
    ScalingRules,
    SelectPolicy,
    TargetType,
)
from exporters.autoscale.policy_sources import (
    ReportOnce,
    group_policy_from_labels,
    parse_rate_policy,
    policies_from_config,
    policy_from_labels,
    policy_from_table,
    read_policies,
    resolve_policies,
)
from observe.config import load_config
from observe.errors import ConfigError, ObserveError

FULL_TOML = """
interval = "2s"

[autoscale."shop/web"]
min = 2
max = 10
cpu = 70
cpu_cores = "500m"
memory = "80%"
error_rate = "300/m"
tolerance = 0.2
scale_up_window = "30s"
scale-down-window = "1m"
scale_up_policies = ["pods:4/60s", "percent:100/15s"]
scale_up_select = "min"
scale_down_policies = "none"
scale_down_select = "disabled"

[autoscale."shop/web".metrics]
http_requests_per_second = 25

[autoscale.worker]
max = 3
error_rate = 1

[autoscale."shop/legacy"]
enabled = false
"""


def test_full_table_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "observe.toml"
    path.write_text(FULL_TOML)
    policies, errors = read_policies(str(path))
    assert errors == []
    web = policies["shop/web"]
    assert web is not None
    assert (web.min_replicas, web.max_replicas, web.tolerance) == (2, 10, 0.2)
    assert web.targets == (
        MetricTarget(CPU, TargetType.UTILIZATION, 70.0),
        MetricTarget(CPU_CORES, TargetType.AVERAGE_VALUE, 0.5),
        MetricTarget(MEMORY, TargetType.UTILIZATION, 80.0),
        MetricTarget(ERROR_RATE, TargetType.AVERAGE_VALUE, 5.0),
        MetricTarget("http_requests_per_second", TargetType.AVERAGE_VALUE, 25.0),
    )
    assert web.scale_up == ScalingRules(
        30.0, (RatePolicy(RateType.PODS, 4, 60.0), RatePolicy(RateType.PERCENT, 100, 15.0)), SelectPolicy.MIN
    )
    assert web.scale_down == ScalingRules(60.0, (), SelectPolicy.DISABLED)
    assert web.source == f"file {path}"
    worker = policies["worker"]
    assert worker is not None
    assert (worker.min_replicas, worker.tolerance) == (1, 0.1)
    assert (worker.scale_up, worker.scale_down) == (DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN)
    assert "shop/legacy" in policies and policies["shop/legacy"] is None
    # the rest of the configuration still loads: the autoscale table is not an option
    assert load_config({}, {}, str(path)).interval == 2.0


def test_defaults_are_kubernetes_defaults() -> None:
    p = Policy("web", 4, (MetricTarget(CPU, TargetType.UTILIZATION, 50),))
    assert (p.min_replicas, p.tolerance, p.scale_up.window, p.scale_down.window) == (1, 0.1, 0.0, 300.0)
    assert [str(r) for r in p.scale_up.policies] == ["percent:100/15s", "pods:4/15s"]
    assert [str(r) for r in p.scale_down.policies] == ["percent:100/15s"]
    assert p.scale_up.select is SelectPolicy.MAX and p.scale_down.select is SelectPolicy.MAX


def test_labels_carry_a_policy() -> None:
    labels = {
        "com.docker.compose.service": "web",
        "observe.autoscale.cpu": "70",
        "observe.autoscale.min": "2",
        "observe.autoscale.max": "10",
        "observe.autoscale.memory": "80",
        "observe.autoscale.error_rate": "5",
        "observe.autoscale.scale-down-window": "60s",
        "observe.autoscale.scale-up-policies": "pods:4/60s,percent:100/15s",
        "observe.autoscale.scale-up-select": "max",
        "observe.autoscale.metric.http_requests_per_second": "25",
    }
    p = policy_from_labels("shop/web", labels)
    assert p is not None
    assert (p.min_replicas, p.max_replicas, p.scale_down.window, p.source) == (2, 10, 60.0, "labels")
    assert [t.name for t in p.targets] == [CPU, MEMORY, ERROR_RATE, "http_requests_per_second"]
    assert p.scale_up.policies == (RatePolicy(RateType.PODS, 4, 60.0), RatePolicy(RateType.PERCENT, 100, 15.0))
    assert p.scale_down == ScalingRules(60.0, DEFAULT_SCALE_DOWN.policies, SelectPolicy.MAX)
    assert policy_from_labels("shop/web", {"com.docker.compose.service": "web"}) is None
    assert policy_from_labels("x", {"observe.autoscale.enabled": "false", "observe.autoscale.cpu": "50"}) is None


@pytest.mark.parametrize(
    ("labels", "needle"),
    [
        ({"observe.autoscale.cpu": "70"}, "max is required"),
        ({"observe.autoscale.max": "3"}, "no target"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "lots"},
         "observe.autoscale.cpu: 'lots' is not a number"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "170"}, "cpu 170% cannot exceed 100"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "0"}, "cpu target 0 must be above zero"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "-5"}, "must be above zero"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "nan"}, "not a finite number"),
        ({"observe.autoscale.max": "2", "observe.autoscale.min": "5", "observe.autoscale.cpu": "50"},
         "max 2 is below min 5"),
        ({"observe.autoscale.max": "2", "observe.autoscale.min": "0", "observe.autoscale.cpu": "50"},
         "min 0 must be at least 1"),
        ({"observe.autoscale.max": "2.5", "observe.autoscale.cpu": "50"}, "'2.5' is not a whole number"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50", "observe.autoscale.tolerance": "1"},
         "tolerance 1 must be at least 0 and below 1"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50", "observe.autoscale.scale-down-window": "2h"},
         "scale_down_window 7200s must be between 0 and 3600s"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50", "observe.autoscale.scale-down-window": "soon"},
         "observe.autoscale.scale-down-window: not a duration"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50", "observe.autoscale.scale-up-policies": "pods4"},
         "is not TYPE:VALUE/PERIOD"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50",
          "observe.autoscale.scale-up-policies": "nodes:4/60s"}, "the type must be pods or percent"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50",
          "observe.autoscale.scale-up-policies": "pods:0/60s"}, "the value must be above zero"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50",
          "observe.autoscale.scale-up-policies": "pods:2/1h"}, "the period must be above 0 and at most 1800s"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpu": "50", "observe.autoscale.scale-up-select": "most"},
         "'most' is not one of max, min, disabled"),
        ({"observe.autoscale.max": "3", "observe.autoscale.cpus": "50"}, "unknown key 'observe.autoscale.cpus'"),
        ({"observe.autoscale.max": "3", "observe.autoscale.metric.bad name": "5"}, "'bad name' is not a metric name"),
        ({"observe.autoscale.max": "3", "observe.autoscale.metric.cpu": "5"}, "'cpu' is not a metric name"),
        ({"observe.autoscale.max": "3", "observe.autoscale.metric.x": "many"}, "x: 'many' is not a number"),
        ({"observe.autoscale.max": "3", "observe.autoscale.metrics": "x"}, "unknown label 'observe.autoscale.metrics'"),
        ({"observe.autoscale.max": "3", "observe.autoscale.enabled": "perhaps"}, "is not a boolean"),
    ],
)
def test_bad_labels_give_one_clear_line(labels: dict[str, str], needle: str) -> None:
    with pytest.raises(PolicyError) as err:
        policy_from_labels("shop/web", labels)
    message = str(err.value)
    assert needle in message
    assert message.startswith("autoscale policy for shop/web (labels): ")
    assert "\n" not in message
    assert isinstance(err.value, ObserveError)


def test_bad_tables_are_reported_and_left_out() -> None:
    data = {
        "autoscale": {
            "good": {"max": 3, "cpu": 50},
            "typo": {"max": 3, "cpu": 50, "scale_dwon_window": "1m"},
            "typed": {"max": True, "cpu": 50},
            "flat": 5,
            "metrics": {"max": 3, "metrics": {"requests": "x"}},
            "listy": {"max": 3, "metrics": [1]},
        }
    }
    policies, errors = policies_from_config(data, "/etc/observe.toml")
    assert list(policies) == ["good"]
    messages = sorted(str(e) for e in errors)
    assert messages == [
        "autoscale policy for flat (file /etc/observe.toml): must be a table, as [autoscale.\"<group>\"]",
        "autoscale policy for listy (file /etc/observe.toml): metrics must be a table of metric name = target",
        "autoscale policy for metrics (file /etc/observe.toml): metrics.requests: 'x' is not a number",
        "autoscale policy for typed (file /etc/observe.toml): max: True has the wrong type",
        "autoscale policy for typo (file /etc/observe.toml): unknown key 'scale_dwon_window'",
    ]
    _, errors = policies_from_config({"autoscale": "on"})
    assert [str(e) for e in errors] == ['config file: autoscale must be a table of [autoscale."<group>"] tables']


def test_a_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        read_policies(str(tmp_path / "missing.toml"))
    assert read_policies("") == ({}, [])


def test_replicas_must_agree() -> None:
    a = {"observe.autoscale.max": "4", "observe.autoscale.cpu": "60", "other": "1"}
    b = {"observe.autoscale.max": "4", "observe.autoscale.cpu": "60", "other": "2"}
    p = group_policy_from_labels("web", [a, b])
    assert p is not None and p.max_replicas == 4
    c = {"observe.autoscale.max": "4", "observe.autoscale.cpu": "80"}
    with pytest.raises(PolicyError, match=r"the replicas disagree on observe\.autoscale\.cpu \(60 vs 80\)"):
        group_policy_from_labels("web", [a, c])
    with pytest.raises(PolicyError, match=r"disagree on observe\.autoscale\.cpu \(60 vs \(unset\)\)"):
        group_policy_from_labels("web", [a, {"observe.autoscale.max": "4"}])
    assert group_policy_from_labels("web", [{"x": "1"}, {}]) is None


def test_the_config_file_wins_over_labels() -> None:
    labelled = {"observe.autoscale.max": "4", "observe.autoscale.cpu": "60"}
    tables = {"shop/web": {"max": 8, "memory": 70}, "shop/off": {"enabled": False}, "shop/idle": {"max": 2, "cpu": 50}}
    file_policies, _ = policies_from_config({"autoscale": tables})
    groups: dict[str, list[dict[str, str]]] = {
        "shop/web": [labelled, labelled],
        "shop/off": [labelled],
        "shop/api": [labelled],
        "shop/bad": [labelled, {**labelled, "observe.autoscale.max": "5"}],
        "shop/plain": [{}],
    }
    policies, errors = resolve_policies(groups, file_policies)
    assert sorted(policies) == ["shop/api", "shop/idle", "shop/web"]
    assert policies["shop/web"].max_replicas == 8 and [t.name for t in policies["shop/web"].targets] == [MEMORY]
    assert policies["shop/api"].source == "labels"
    assert [str(e) for e in errors] == [
        "autoscale policy for shop/bad (labels): the replicas disagree on observe.autoscale.max (4 vs 5)"
    ]


def test_errors_are_reported_once_while_they_persist() -> None:
    once = ReportOnce()
    e1, e2 = PolicyError("a is bad"), PolicyError("b is bad")
    assert once.fresh([e1]) == [e1]
    assert once.fresh([PolicyError("a is bad"), e2]) == [e2]
    assert once.fresh([e1, e2]) == []
    assert once.fresh([e2]) == []
    assert once.fresh([e1, e2]) == [e1]  # fixed, then broken again: worth saying again


def test_cpu_cores_is_the_fallback_without_a_cpu_limit() -> None:
    both = policy_from_table("web", {"max": 5, "cpu": 70, "cpu_cores": 0.5, "memory": 80})
    assert both is not None
    assert [t.name for t in both.targets_for(cpu_limited=True)] == [CPU, MEMORY]
    assert [t.name for t in both.targets_for(cpu_limited=False)] == [CPU_CORES, MEMORY]
    cores = policy_from_table("web", {"max": 5, "cpu_cores": "250m"})
    assert cores is not None and cores.targets_for(True) == cores.targets_for(False)
    assert cores.targets[0].target == 0.25


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pods:4/60s", RatePolicy(RateType.PODS, 4, 60.0)),
        (" Percent : 10 / 1m ", RatePolicy(RateType.PERCENT, 10, 60.0)),
        ("pods:1/15", RatePolicy(RateType.PODS, 1, 15.0)),
    ],
)
def test_rate_policy_syntax(text: str, expected: RatePolicy) -> None:
    assert parse_rate_policy(text) == expected


def test_units_of_targets() -> None:
    p = policy_from_table("w", {"max": 2, "cpu": "70%", "error_rate": "36/h", "metrics": {"q": "1.5"}})
    assert p is not None
    assert [(t.name, t.target) for t in p.targets] == [(CPU, 70.0), (ERROR_RATE, 0.01), ("q", 1.5)]
    assert [t.show(t.target) for t in p.targets] == ["70%", "0.01 lines/s", "1.5"]


@given(
    st.integers(1, 50), st.integers(0, 50), st.floats(1, 100), st.floats(0, 0.99),
    st.integers(0, 3600), st.lists(st.tuples(st.sampled_from(["pods", "percent"]), st.integers(1, 500),
                                             st.integers(1, 1800)), max_size=3),
)
def test_labels_round_trip(lo: int, extra: int, cpu: float, tolerance: float, window: int,
                           rates: list[tuple[str, int, int]]) -> None:
    labels = {
        "observe.autoscale.min": str(lo),
        "observe.autoscale.max": str(lo + extra),
        "observe.autoscale.cpu": repr(cpu),
        "observe.autoscale.tolerance": repr(tolerance),
        "observe.autoscale.scale-down-window": f"{window}s",
        "observe.autoscale.scale-down-policies": ",".join(f"{k}:{v}/{s}s" for k, v, s in rates) or "none",
    }
    p = policy_from_labels("g", labels)
    assert p is not None
    assert (p.min_replicas, p.max_replicas, p.tolerance, p.scale_down.window) == (lo, lo + extra, tolerance, window)
    assert p.targets == (MetricTarget(CPU, TargetType.UTILIZATION, cpu),)
    assert [str(r) for r in p.scale_down.policies] == [f"{k}:{v}/{s}s" for k, v, s in rates]
