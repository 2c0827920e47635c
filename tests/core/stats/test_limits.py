"""A container's effective limits: the cgroup's values win, the inspect document fills the rest."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from observe.stats import DEFAULT_CFS_PERIOD_US, ContainerStats, Limits, Sample, effective_limits, inspect_limits
from tests.support.logsamples import make_container

NO_LIMIT_V1 = 9223372036854771712


def test_inspect_alone_turns_cpus_into_a_quota_over_the_default_period() -> None:
    c = replace(make_container(), nano_cpus=250_000_000, memory_limit=64 << 20, cpu_shares=0)
    limits = inspect_limits(c)
    assert limits == Limits(cpu_quota_us=25_000, cpu_period_us=DEFAULT_CFS_PERIOD_US, cpu_shares=1024,
                            memory_bytes=64 << 20)
    assert limits.cpu_cores == 0.25
    assert effective_limits(c, None) == limits


def test_the_cgroup_wins_where_it_reports_and_no_limit_is_zero() -> None:
    c = replace(make_container(), cpu_quota=50_000, cpu_period=100_000, memory_limit=64 << 20)
    sample = Sample(0.0, 0.0, spec_cpu_quota_us=20_000, spec_cpu_period_us=50_000, spec_memory_limit_bytes=0,
                    spec_memory_swap_limit_bytes=NO_LIMIT_V1, spec_memory_reservation_bytes=32 << 20)
    limits = ContainerStats(c, sample, (sample,)).limits
    assert (limits.cpu_quota_us, limits.cpu_period_us, limits.cpu_cores) == (20_000, 50_000, 0.4)
    assert (limits.memory_bytes, limits.memory_swap_bytes, limits.memory_reservation_bytes) == (0, 0, 32 << 20)


def test_a_remote_sample_without_spec_values_keeps_the_inspect_limits() -> None:
    c = replace(make_container(), nano_cpus=1_500_000_000, memory_limit=128 << 20)
    assert effective_limits(c, Sample(0.0, 0.0)) == inspect_limits(c)


@given(st.integers(0, 64_000_000_000), st.integers(-1, 10_000_000), st.integers(0, 1_000_000),
       st.integers(-1, 2**63))
def test_limits_are_never_negative_and_cores_match_quota_over_period(nano: int, quota: int, period: int,
                                                                     memory: int) -> None:
    c = replace(make_container(), nano_cpus=nano, cpu_quota=quota, cpu_period=period, memory_limit=memory)
    limits = inspect_limits(c)
    assert min(limits.cpu_quota_us, limits.memory_bytes) >= 0 and limits.cpu_period_us > 0
    assert limits.memory_bytes < 1 << 62
    if nano:
        assert abs(limits.cpu_cores - nano / 1e9) < 1e-5
    assert limits.cpu_cores == (limits.cpu_quota_us / limits.cpu_period_us if limits.cpu_quota_us else 0.0)
