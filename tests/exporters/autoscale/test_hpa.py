"""The HPA algorithm against the Kubernetes documentation's rules and worked examples, and its properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from exporters.autoscale.decision import Decision, History, Limit, Replica, ScaleEvent
from exporters.autoscale.hpa import Autoscaler, decide, metric_proposal
from exporters.autoscale.policy import (
    CPU,
    CPU_CORES,
    MEMORY,
    MetricTarget,
    Policy,
    RatePolicy,
    RateType,
    ScalingRules,
    SelectPolicy,
    TargetType,
)

CORES = MetricTarget(CPU_CORES, TargetType.AVERAGE_VALUE, 0.1)  # the docs' 100m target
CPU50 = MetricTarget(CPU, TargetType.UTILIZATION, 50.0)
MEM80 = MetricTarget(MEMORY, TargetType.UTILIZATION, 80.0)
FREE = ScalingRules(0.0, ())  # no stabilisation, no rate limit


def policy(
    *targets: MetricTarget,
    lo: int = 1,
    hi: int = 100,
    up: ScalingRules = FREE,
    down: ScalingRules = FREE,
    tolerance: float = 0.1,
) -> Policy:
    return Policy("shop/web", hi, targets or (CORES,), lo, tolerance, up, down)


def group(metric: str, *values: float | None, ready: bool = True) -> list[Replica]:
    return [Replica(f"web-{i}", {metric: v}, ready=ready) for i, v in enumerate(values, 1)]


# ---- the documentation's worked examples ----


def test_docs_example_200m_against_100m_doubles() -> None:
    d = decide(policy(), group(CPU_CORES, 0.2), now=0)
    assert (d.current, d.desired, d.recommendation, d.driver, d.limited) == (1, 2, 2, CPU_CORES, Limit.NONE)
    assert d.metrics[0].value == pytest.approx(0.2) and d.metrics[0].ratio == pytest.approx(2.0)
    assert "scale up to 2" in d.reason and "cpu_cores 0.2 cores" in d.reason


def test_docs_example_50m_halves() -> None:
    assert decide(policy(), group(CPU_CORES, 0.05), now=0).desired == 1  # ceil(0.5) = 1
    d = decide(policy(), group(CPU_CORES, 0.05, 0.05, 0.05, 0.05), now=0)
    assert (d.current, d.desired) == (4, 2)


@pytest.mark.parametrize(
    ("value", "desired", "limited"),
    [
        (0.109, 4, Limit.TOLERANCE),  # ratio 1.09: within 0.1
        (0.091, 4, Limit.TOLERANCE),  # ratio 0.91
        (0.1, 4, Limit.NONE),  # exactly at target: nothing to hold back
        (0.111, 5, Limit.NONE),  # ratio 1.11: ceil(4.44)
        (0.089, 4, Limit.NONE),  # ratio 0.89: ceil(3.56) = 4, the formula itself keeps 4
        (0.07, 3, Limit.NONE),  # ceil(2.8)
    ],
)
def test_tolerance(value: float, desired: int, limited: Limit) -> None:
    d = decide(policy(), group(CPU_CORES, *[value] * 4), now=0)
    assert (d.desired, d.limited) == (desired, limited)
    if limited is Limit.TOLERANCE:
        assert "within the tolerance 0.1" in d.reason


def test_tolerance_is_configurable() -> None:
    replicas = group(CPU_CORES, 0.15, 0.15)
    assert decide(policy(tolerance=0.6), replicas, now=0).desired == 2
    assert decide(policy(tolerance=0.0), group(CPU_CORES, 0.101, 0.101), now=0).desired == 3


def test_several_metrics_take_the_largest_proposal() -> None:
    replicas = [Replica(f"r{i}", {CPU: 100.0, MEMORY: 40.0}) for i in range(3)]
    d = decide(policy(CPU50, MEM80), replicas, now=0)
    assert [m.proposal for m in d.metrics] == [6, 2]
    assert (d.desired, d.driver) == (6, CPU)
    replicas = [Replica(f"r{i}", {CPU: 10.0, MEMORY: 160.0 / 2}) for i in range(3)]
    d = decide(policy(CPU50, MEM80), replicas, now=0)
    assert [m.proposal for m in d.metrics] == [1, 3]  # memory at target keeps 3: the largest wins
    assert (d.desired, d.driver) == (3, MEMORY)


# ---- missing samples and replicas that are not ready ----


def test_scale_up_counts_missing_replicas_as_zero() -> None:
    # 2 replicas at 100 % of a 50 % target and 2 without samples: 0 % for them gives exactly the target
    d = decide(policy(CPU50), group(CPU, 100.0, 100.0, None, None), now=0)
    m = d.metrics[0]
    assert (m.value, m.samples, m.missing, m.held) == (100.0, 2, 2, Limit.MISSING_METRICS)
    assert (d.desired, d.limited) == (4, Limit.MISSING_METRICS)
    # with fewer missing the scale-up goes on, computed over every replica counted
    d = decide(policy(CPU50), group(CPU, 100.0, 100.0, 100.0, None), now=0)
    assert d.desired == 6  # new ratio 1.5 over 4 replicas


def test_scale_down_counts_missing_replicas_at_full_use() -> None:
    # 3 at 10 % of a 50 % target, 1 missing counted at 100 %: ratio 0.65 over 4 -> 3 (naively 1)
    m = metric_proposal(CPU50, group(CPU, 10.0, 10.0, 10.0, None), 0.1)
    assert m.ratio == pytest.approx(0.2) and m.proposal == 3
    # average-value metrics count the missing replica at the target instead
    m = metric_proposal(CORES, group(CPU_CORES, 0.02, 0.02, 0.02, None), 0.1)
    assert m.proposal == 2  # (0.06 + 0.1) / 4 = 0.04: ratio 0.4 over 4 replicas


def test_missing_samples_that_reverse_the_direction_hold() -> None:
    # 2 at 10 %, 2 missing at 100 %: the new ratio 1.1 points up while the samples point down
    d = decide(policy(CPU50), group(CPU, 10.0, 10.0, None, None), now=0)
    assert (d.desired, d.limited, d.metrics[0].held) == (4, Limit.MISSING_METRICS, Limit.MISSING_METRICS)
    assert "without a usable sample" in d.reason


def test_unready_replicas_count_as_zero_on_a_cpu_scale_up() -> None:
    replicas = group(CPU, 100.0, 100.0) + group(CPU, 300.0, 300.0, ready=False)
    d = decide(policy(CPU50), replicas, now=0)
    m = d.metrics[0]
    assert (m.value, m.samples, m.unready) == (100.0, 2, 2)  # the unready samples are set aside
    assert (d.desired, d.limited) == (4, Limit.MISSING_METRICS)  # 200 / 4 = 50 %: exactly the target


def test_unready_replicas_are_dropped_on_a_cpu_scale_down() -> None:
    replicas = group(CPU, 10.0, 10.0) + group(CPU, 90.0, 90.0, ready=False)
    assert decide(policy(CPU50), replicas, now=0).desired == 1  # ceil(0.2 x 2 ready), as the HPA does


def test_readiness_sets_aside_cpu_samples_only_but_starting_replicas_for_every_metric() -> None:
    replicas = group(MEMORY, 160.0 / 2, 160.0 / 2, ready=False)
    assert decide(policy(MEM80), replicas, now=0).metrics[0].samples == 2
    replicas = [*group(MEMORY, 80.0), Replica("new", {MEMORY: 80.0}, started=False)]
    m = decide(policy(MEM80), replicas, now=0).metrics[0]
    assert (m.samples, m.unready) == (1, 1)


def test_no_usable_sample_means_no_change() -> None:
    d = decide(policy(CPU50), group(CPU, None, None), now=0)
    assert (d.desired, d.limited, d.recommendation, d.recorded) == (2, Limit.MISSING_METRICS, None, False)
    assert d.metrics[0].proposal is None and "no usable sample for cpu" in d.reason


def test_an_invalid_metric_blocks_scale_down_but_not_scale_up() -> None:
    low = [Replica(f"r{i}", {CPU: 5.0}) for i in range(4)]
    d = decide(policy(CPU50, MEM80), low, now=0)
    assert (d.desired, d.limited, d.recommendation) == (4, Limit.MISSING_METRICS, 1)
    high = [Replica(f"r{i}", {CPU: 100.0}) for i in range(4)]
    d = decide(policy(CPU50, MEM80), high, now=0)
    assert (d.desired, d.limited) == (8, Limit.NONE)


# ---- min, max and the count being out of range ----


def test_clamped_to_max_and_min() -> None:
    d = decide(policy(hi=5), group(CPU_CORES, 0.5, 0.5), now=0)
    assert (d.recommendation, d.desired, d.limited) == (10, 5, Limit.MAX)
    assert "limited to max 5" in d.reason
    d = decide(policy(lo=2), group(CPU_CORES, 0.0, 0.0, 0.0), now=0)
    assert (d.recommendation, d.desired, d.limited) == (0, 2, Limit.MIN)


def test_a_count_outside_the_bounds_goes_straight_to_the_bound() -> None:
    d = decide(policy(hi=3), group(CPU_CORES, 0.1, 0.1, 0.1, 0.1, 0.1), now=0)
    assert (d.desired, d.limited, d.recorded) == (3, Limit.MAX, False)
    d = decide(policy(lo=3, hi=5), group(CPU_CORES, 0.01), now=0)
    assert (d.desired, d.limited) == (3, Limit.MIN)


def test_no_replicas_no_decision() -> None:
    d = decide(policy(lo=2), [], now=0)
    assert (d.current, d.desired, d.limited) == (0, 0, Limit.NO_REPLICAS)


# ---- stabilisation windows ----


def test_scale_down_window_keeps_the_highest_recent_recommendation() -> None:
    p = policy(down=ScalingRules(300.0, ()))
    auto = Autoscaler()
    high, low = group(CPU_CORES, *[0.1] * 5), group(CPU_CORES, *[0.02] * 5)
    assert auto.evaluate(p, high, now=1000).desired == 5
    steps = [(1060, 5), (1200, 5), (1299.9, 5), (1300, 1)]  # 1000's recommendation of 5 expires at 1300
    for now, desired in steps:
        d = auto.evaluate(p, low, now=now)
        assert d.desired == desired, now
        assert d.recommendation == 1
    assert auto.evaluate(p, low, now=1301).desired == 1


def test_scale_down_window_after_a_peak() -> None:
    p = policy(down=ScalingRules(60.0, ()))
    auto = Autoscaler()
    loads = [(0, 0.1, 4), (10, 0.2, 8), (20, 0.05, 8), (69, 0.05, 8), (70, 0.05, 4), (75, 0.2, 8)]
    current = 4
    for now, load, desired in loads:
        d = auto.evaluate(p, group(CPU_CORES, *[load] * current), now=now)
        assert d.desired == desired, (now, d.reason)
        if d.limited is Limit.SCALE_DOWN_WINDOW:
            assert "highest recommendation within the 60s scale-down window" in d.reason
        current = d.desired


def test_a_fresh_autoscaler_does_not_scale_down_before_the_window() -> None:
    p = policy(down=ScalingRules(300.0, ()))
    auto = Autoscaler()
    d = auto.evaluate(p, group(CPU_CORES, *[0.01] * 6), now=50)
    assert (d.desired, d.limited) == (6, Limit.SCALE_DOWN_WINDOW)
    assert auto.evaluate(p, group(CPU_CORES, *[0.01] * 6), now=350).desired == 1


def test_scale_up_window_keeps_the_lowest_recent_recommendation() -> None:
    p = policy(up=ScalingRules(60.0, ()))
    auto = Autoscaler()
    assert auto.evaluate(p, group(CPU_CORES, 0.1, 0.1), now=0).desired == 2
    d = auto.evaluate(p, group(CPU_CORES, 0.3, 0.3), now=10)
    assert (d.recommendation, d.desired, d.limited) == (6, 2, Limit.SCALE_UP_WINDOW)
    assert auto.evaluate(p, group(CPU_CORES, 0.3, 0.3), now=59.5).desired == 2  # 0 s' recommendation still in
    assert auto.evaluate(p, group(CPU_CORES, 0.3, 0.3), now=60).desired == 6


def test_stabilise_with_given_history() -> None:
    history = History(recommendations=((90.0, 7), (10.0, 9)))
    p = policy(down=ScalingRules(60.0, ()))
    d = decide(p, group(CPU_CORES, *[0.01] * 8), now=100, history=history)
    assert (d.desired, d.limited) == (7, Limit.SCALE_DOWN_WINDOW)  # 10 s' 9 is outside the window


# ---- rate policies ----

PODS4 = RatePolicy(RateType.PODS, 4, 60.0)
PCT100 = RatePolicy(RateType.PERCENT, 100, 15.0)


def test_pods_policy_limits_and_remembers_scale_events() -> None:
    p = policy(up=ScalingRules(0.0, (PODS4,)))
    auto = Autoscaler()
    d = auto.evaluate(p, group(CPU_CORES, 1.0, 1.0), now=0)
    assert (d.recommendation, d.desired, d.limited) == (20, 6, Limit.SCALE_UP_RATE)
    assert "pods:4/60s" in d.reason
    auto.record_scale(p, 2, 6, now=0)
    d = auto.evaluate(p, group(CPU_CORES, *[1.0] * 6), now=30)
    assert (d.desired, d.limited) == (6, Limit.SCALE_UP_RATE)  # 4 already added this minute
    assert auto.evaluate(p, group(CPU_CORES, *[1.0] * 6), now=60).desired == 10  # the event left the period


def test_percent_policy_and_select() -> None:
    replicas = group(CPU_CORES, *[1.0] * 3)  # asks for 30
    assert decide(policy(up=ScalingRules(0.0, (PCT100,))), replicas, now=0).desired == 6
    both = (PODS4, PCT100)
    assert decide(policy(up=ScalingRules(0.0, both, SelectPolicy.MAX)), replicas, now=0).desired == 7
    assert decide(policy(up=ScalingRules(0.0, both, SelectPolicy.MIN)), replicas, now=0).desired == 6
    d = decide(policy(up=ScalingRules(0.0, both, SelectPolicy.DISABLED)), replicas, now=0)
    assert (d.desired, d.limited) == (3, Limit.SCALE_UP_DISABLED)
    assert "scaling up is disabled" in d.reason


def test_percent_scale_up_rounds_up() -> None:
    p = policy(up=ScalingRules(0.0, (RatePolicy(RateType.PERCENT, 10, 60.0),)))
    assert decide(p, group(CPU_CORES, *[1.0] * 3), now=0).desired == 4  # ceil(3.3)


def test_docs_scale_down_example_80_to_72_to_64() -> None:
    # "80 replicas ... 10 % per minute: first 8 go, then 72 * 10 % = 7.2, 8 more go"
    rules = ScalingRules(0.0, (RatePolicy(RateType.PODS, 4, 60.0), RatePolicy(RateType.PERCENT, 10, 60.0)))
    p = policy(down=rules)
    auto = Autoscaler()
    current, now = 80, 0.0
    seen: list[int] = []
    while current > 10 and len(seen) < 40:
        d = auto.evaluate(p, group(CPU_CORES, *[1.0 / current] * current), now=now)  # 1 core in all: 10 wanted
        if d.desired != current:
            auto.record_scale(p, current, d.desired, now)
            seen.append(d.desired)
        current = d.desired
        now += 15
    assert seen[:3] == [72, 64, 57]
    assert seen[-1] == 10


def test_scale_down_select_min_and_disabled() -> None:
    rules = (RatePolicy(RateType.PODS, 4, 60.0), RatePolicy(RateType.PERCENT, 10, 60.0))
    replicas = group(CPU_CORES, *[0.0125] * 80)
    assert decide(policy(down=ScalingRules(0.0, rules, SelectPolicy.MIN)), replicas, now=0).desired == 76
    d = decide(policy(down=ScalingRules(0.0, rules, SelectPolicy.DISABLED)), replicas, now=0)
    assert (d.desired, d.limited) == (80, Limit.SCALE_DOWN_DISABLED)


def test_rate_limit_and_max_pick_the_tighter() -> None:
    p = policy(hi=5, up=ScalingRules(0.0, (PODS4,)))
    d = decide(p, group(CPU_CORES, 1.0, 1.0), now=0)  # rate allows 6, max 5
    assert (d.desired, d.limited) == (5, Limit.MAX)
    p = policy(lo=3, down=ScalingRules(0.0, (RatePolicy(RateType.PODS, 1, 60.0),)))
    d = decide(p, group(CPU_CORES, *[0.01] * 6), now=0)  # rate allows 5, min 3
    assert (d.desired, d.limited) == (5, Limit.SCALE_DOWN_RATE)


def test_period_start_accounts_for_both_directions() -> None:
    p = policy(up=ScalingRules(0.0, (PODS4,)))
    history = History(events=(ScaleEvent(10.0, 3), ScaleEvent(20.0, -2)))
    # 5 now; within the minute 3 added and 2 removed: the period started at 4, so at most 8
    assert decide(p, group(CPU_CORES, *[1.0] * 5), now=30, history=history).desired == 8


def test_autoscaler_prunes_its_history() -> None:
    p = policy(up=ScalingRules(0.0, (PODS4,)), down=ScalingRules(120.0, ()))
    auto = Autoscaler()
    for t in range(0, 1000, 10):
        auto.evaluate(p, group(CPU_CORES, 0.1, 0.1), now=t)
        auto.record_scale(p, 2, 3, now=t)
    h = auto.history("shop/web")
    assert all(t > 990 - 120 for t, _ in h.recommendations) and len(h.recommendations) == 12
    assert all(e.time > 990 - 60 for e in h.events) and len(h.events) == 6
    auto.forget("shop/web")
    assert auto.history("shop/web") == History()


def test_decision_as_json() -> None:
    d = decide(policy(CPU50), group(CPU, 100.0), now=5)
    doc = d.to_dict()
    assert doc["service"] == "shop/web" and doc["desired_replicas"] == 2 and doc["limited"] == "none"
    assert doc["metrics"][0] == {
        "metric": "cpu", "type": "utilization", "target": 50.0, "value": 100.0, "ratio": 2.0, "proposal": 2,
        "samples": 1, "missing": 0, "unready": 0, "held": "none",
    }


# ---- properties ----

values = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)
maybe_values = st.one_of(st.none(), values)
rate_policies = st.lists(
    st.builds(RatePolicy, st.sampled_from(RateType), st.integers(1, 200), st.sampled_from([15.0, 60.0, 300.0])),
    max_size=3,
).map(tuple)
rules = st.builds(ScalingRules, st.sampled_from([0.0, 30.0, 300.0]), rate_policies, st.sampled_from(SelectPolicy))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Policy, list[Replica], History]:
    lo = draw(st.integers(1, 5))
    hi = draw(st.integers(lo, 30))
    target = MetricTarget(CPU, TargetType.UTILIZATION, draw(st.floats(1.0, 100.0)))
    second = MetricTarget("requests", TargetType.AVERAGE_VALUE, draw(st.floats(0.1, 10.0)))
    p = Policy("svc", hi, (target, second), lo, draw(st.floats(0.0, 0.5)), draw(rules), draw(rules))
    n = draw(st.integers(0, 35))
    replicas = [
        Replica(
            f"r{i}",
            {CPU: draw(st.one_of(st.none(), st.floats(0.0, 100.0))), "requests": draw(maybe_values)},
            ready=draw(st.booleans()),
            started=draw(st.booleans()),
        )
        for i in range(n)
    ]
    recs = draw(st.lists(st.tuples(st.floats(0.0, 100.0), st.integers(0, 40)), max_size=6))
    events = draw(st.lists(st.builds(ScaleEvent, st.floats(0.0, 100.0), st.integers(-10, 10)), max_size=6))
    return p, replicas, History(tuple(recs), tuple(events))


@given(scenarios())
@settings(max_examples=400)
def test_desired_is_always_within_min_and_max(scenario: tuple[Policy, list[Replica], History]) -> None:
    p, replicas, history = scenario
    d = decide(p, replicas, now=100.0, history=history)
    if replicas:
        assert p.min_replicas <= d.desired <= p.max_replicas, d
    else:
        assert d.desired == 0 and d.limited is Limit.NO_REPLICAS
    assert d.limited is not Limit.NONE or d.desired == d.recommendation


@given(
    st.integers(1, 30),
    st.floats(1.0, 100.0),
    st.floats(0.0, 0.5),
    st.data(),
)
def test_within_tolerance_nothing_changes(n: int, target: float, tolerance: float, data: st.DataObject) -> None:
    ratio = data.draw(st.floats(1.0 - tolerance, 1.0 + tolerance))
    t = MetricTarget(CPU_CORES, TargetType.AVERAGE_VALUE, target)
    p = policy(t, lo=1, hi=30, tolerance=tolerance,
               up=data.draw(rules), down=data.draw(rules))
    d = decide(p, group(CPU_CORES, *[target * ratio] * n), now=0.0)
    ratio_seen = d.metrics[0].ratio
    assume(ratio_seen is not None and abs(1.0 - ratio_seen) <= tolerance)  # float rounding of target x ratio / target
    assert d.desired == n


@given(st.floats(0.1, 10.0), st.lists(st.floats(0.0, 20.0), min_size=1, max_size=40), st.integers(0, 60), st.data())
def test_without_stabilisation_or_rate_policies_it_is_the_clamped_formula(
    target: float, samples: list[float], tol_percent: int, data: st.DataObject
) -> None:
    lo = data.draw(st.integers(1, len(samples)))
    hi = data.draw(st.integers(len(samples), 60))
    tolerance = tol_percent / 100
    t = MetricTarget("requests", TargetType.AVERAGE_VALUE, target)
    d = decide(policy(t, lo=lo, hi=hi, tolerance=tolerance), group("requests", *samples), now=0.0)
    ratio = math.fsum(samples) / len(samples) / target
    expected = len(samples) if abs(1 - ratio) <= tolerance else math.ceil(round(ratio * len(samples), 9))
    assert d.desired == min(max(expected, lo), hi)


@given(st.lists(st.tuples(st.floats(0.5, 30.0), st.floats(0.0, 1.0)), min_size=1, max_size=40),
       st.sampled_from([30.0, 60.0, 300.0]))
def test_no_scale_down_before_the_window_passed_since_a_higher_recommendation(
    steps: list[tuple[float, float]], window: float
) -> None:
    p = policy(lo=1, hi=50, down=ScalingRules(window, ()))
    auto = Autoscaler()
    now, current = 0.0, 5
    recorded: list[tuple[float, int]] = [(now, current)]  # a fresh autoscaler starts from the current count
    for gap, load in steps:
        now += gap
        d: Decision = auto.evaluate(p, group(CPU_CORES, *[load] * current), now=now)
        if d.recorded and d.recommendation is not None:
            recorded.append((now, d.recommendation))
        if d.desired < current:
            recent = [r for t, r in recorded if t > now - window]
            assert max(recent) <= d.desired, (now, recent, d)
        current = d.desired


@given(st.lists(st.tuples(st.floats(1.0, 40.0), st.floats(0.0, 3.0)), min_size=1, max_size=30),
       st.integers(1, 6), st.sampled_from([15.0, 60.0]))
def test_pods_policy_bounds_the_change_since_the_period_start(
    steps: list[tuple[float, float]], pods: int, period: float
) -> None:
    rate = ScalingRules(0.0, (RatePolicy(RateType.PODS, pods, period),))
    p = policy(lo=1, hi=60, up=rate, down=rate)
    auto = Autoscaler()
    now, current, events = 0.0, 3, []
    for gap, load in steps:
        now += gap
        d = auto.evaluate(p, group(CPU_CORES, *[load] * current), now=now)
        if d.desired != current:
            auto.record_scale(p, current, d.desired, now)
            events.append((now, d.desired - current))
            # a change is allowed only while the replicas are within `pods` of those at the period's start
            net = sum(c for t, c in events if t > now - period)
            assert net <= pods if d.desired > current else net >= -pods
        current = d.desired


@given(st.lists(maybe_values, min_size=1, max_size=20), st.lists(st.booleans(), min_size=20, max_size=20),
       st.floats(0.1, 5.0), st.floats(0.0, 0.5), st.booleans())
def test_conservative_rules_never_reverse_the_direction_of_the_samples(
    samples: list[float | None], ready: list[bool], target: float, tolerance: float, cpu: bool
) -> None:
    name = CPU_CORES if cpu else "requests"
    t = MetricTarget(name, TargetType.AVERAGE_VALUE, target)
    replicas = [Replica(f"r{i}", {name: v}, ready=ready[i]) for i, v in enumerate(samples)]
    m = metric_proposal(t, replicas, tolerance)
    if m.ratio is None:
        assert m.proposal is None
        return
    assert m.proposal is not None
    if m.ratio > 1:
        assert m.proposal >= len(replicas)
    elif m.ratio < 1:
        assert m.proposal <= len(replicas)
