"""Raw per-replica readings to metric values, and on into a decision."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporters.autoscale.decision import Limit
from exporters.autoscale.hpa import decide
from exporters.autoscale.policy import CPU, CPU_CORES, ERROR_RATE, MEMORY
from exporters.autoscale.policy_sources import policy_from_labels, policy_from_table
from exporters.autoscale.signals import (
    CounterWindow,
    ReplicaReading,
    replica_values,
    replicas_for,
)
from observe.model import ContainerInfo
from observe.stats import inspect_limits
from tests.support.logsamples import make_container

MIB = 1 << 20


def info_with(nano_cpus: int, cpu_quota: int, cpu_period: int) -> ContainerInfo:
    return replace(make_container(), nano_cpus=nano_cpus, cpu_quota=cpu_quota, cpu_period=cpu_period)


@pytest.mark.parametrize(
    ("nano", "quota", "period", "cores"),
    [
        (100_000_000, 0, 0, 0.1),  # --cpus 0.1
        (2_000_000_000, 50_000, 100_000, 2.0),  # NanoCpus wins (Docker refuses both, but be definite)
        (0, 50_000, 100_000, 0.5),  # --cpu-quota 50000 --cpu-period 100000
        (0, 25_000, 0, 0.25),  # quota with the default period
        (0, 0, 100_000, 0.0),
        (0, -1, 0, 0.0),
    ],
)
def test_cpu_limit_in_cores(nano: int, quota: int, period: int, cores: float) -> None:
    assert inspect_limits(info_with(nano, quota, period)).cpu_cores == pytest.approx(cores)


def test_values_of_a_limited_replica() -> None:
    r = ReplicaReading(
        "web-1",
        cpu_seconds=CounterWindow(100.0, 12.0, 102.0, 12.1),
        working_set_bytes=48 * MIB,
        memory_limit_bytes=64 * MIB,
        cpu_limit_cores=0.1,
        error_lines=CounterWindow(100.0, 10, 110.0, 40),
        extra={"requests": 7.5},
    )
    v = replica_values(r)
    assert v[CPU_CORES] == pytest.approx(0.05)
    assert v[CPU] == pytest.approx(50.0)
    assert v[MEMORY] == pytest.approx(75.0)
    assert v[ERROR_RATE] == pytest.approx(3.0)
    assert v["requests"] == 7.5


def test_values_without_limits_or_history() -> None:
    r = ReplicaReading("web-2", cpu_seconds=CounterWindow(0.0, 1.0, 1.0, 1.5), working_set_bytes=10 * MIB,
                       memory_limit_bytes=9223372036854771712)  # cgroup v1's "no limit"
    v = replica_values(r)
    assert (v[CPU], v[CPU_CORES], v[MEMORY], v[ERROR_RATE]) == (None, 0.5, None, None)
    assert replica_values(ReplicaReading("new"))[CPU_CORES] is None


@pytest.mark.parametrize(
    "window",
    [CounterWindow(10.0, 5.0, 10.0, 6.0), CounterWindow(10.0, 5.0, 9.0, 6.0), CounterWindow(10.0, 5.0, 11.0, 1.0)],
)
def test_no_rate_from_an_empty_window_or_a_reset_counter(window: CounterWindow) -> None:
    assert window.rate() is None
    assert replica_values(ReplicaReading("r", error_lines=window))[ERROR_RATE] is None


def test_cpu_cores_replaces_cpu_when_a_replica_has_no_limit() -> None:
    policy = policy_from_table("web", {"max": 6, "cpu": 50, "cpu_cores": 0.2})
    assert policy is not None
    limited = [ReplicaReading(f"r{i}", cpu_limit_cores=0.5) for i in range(2)]
    targets, _ = replicas_for(policy, limited)
    assert [t.name for t in targets] == [CPU]
    targets, _ = replicas_for(policy, [*limited, ReplicaReading("r3")])
    assert [t.name for t in targets] == [CPU_CORES]


def test_two_throttled_replicas_burning_cpu_against_50_percent() -> None:
    """The issue's scenario: two replicas at --cpus 0.1, each using all of it, target 50 % -> 4."""
    policy = policy_from_labels("shop/burn", {"observe.autoscale.cpu": "50", "observe.autoscale.max": "10"})
    assert policy is not None
    readings = [
        ReplicaReading(f"burn-{i}", cpu_seconds=CounterWindow(0.0, 3.0, 5.0, 3.5),
                       cpu_limit_cores=inspect_limits(info_with(100_000_000, 0, 0)).cpu_cores)
        for i in (1, 2)
    ]
    targets, replicas = replicas_for(policy, readings)
    d = decide(policy, replicas, now=5.0, targets=targets)
    assert (d.current, d.desired, d.driver, d.limited) == (2, 4, CPU, Limit.NONE)
    m = d.metric(CPU)
    assert m is not None and m.value == pytest.approx(100.0)
    assert d.reason == "scale up to 4: cpu 100% against a target of 50% asks for 4"


def test_readiness_and_start_carry_over() -> None:
    policy = policy_from_table("w", {"max": 4, "error_rate": 1})
    assert policy is not None
    _, replicas = replicas_for(policy, [ReplicaReading("a", ready=False), ReplicaReading("b", started=False)])
    assert [(r.ready, r.started) for r in replicas] == [(False, True), (True, False)]


@given(
    st.floats(0.0, 1e6), st.floats(0.001, 1e4), st.floats(0.0, 1e4), st.floats(0.01, 64.0), st.floats(-1e6, 1e6)
)
def test_cpu_utilisation_is_the_rate_over_the_limit(start: float, elapsed: float, used: float, limit: float,
                                                    shift: float) -> None:
    window = CounterWindow(shift, start, shift + elapsed, start + used)
    v = replica_values(ReplicaReading("r", cpu_seconds=window, cpu_limit_cores=limit))
    cores, cpu = v[CPU_CORES], v[CPU]
    assert cores is not None and cpu is not None
    assert cores == pytest.approx(used / elapsed, rel=1e-6, abs=1e-12 * (1 + start) / elapsed)  # float cancellation
    assert cpu == pytest.approx(cores / limit * 100, rel=1e-9)


@given(st.integers(0, 1 << 40), st.integers(1, 1 << 40))
def test_memory_utilisation(working_set: int, limit: int) -> None:
    memory = replica_values(ReplicaReading("r", working_set_bytes=working_set, memory_limit_bytes=limit))[MEMORY]
    assert memory == pytest.approx(working_set / limit * 100)
