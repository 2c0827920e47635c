"""The sampler over a fake inventory and backend; the stats API document parser on v1- and v2-shaped documents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from observe.engine.inspect import from_inspect
from observe.inventory import REMOVED, InventoryChange
from observe.model import ContainerInfo
from observe.stats.api import sample_from_stats
from observe.stats.sample import ContainerGone, Sample, StatsUnavailable, cpu_cores, rate
from observe.stats.sampler import StatsSampler
from tests.support.waiting import wait_for

INFO = {"CgroupDriver": "cgroupfs", "CgroupVersion": "1"}


def container(name: str, state: str = "running", cid: str = "") -> ContainerInfo:
    cid = cid or (name.encode().hex() * 64)[:64]
    doc = {"Id": cid, "Name": "/" + name, "Config": {"Image": "busybox:1", "Labels": {}},
           "State": {"Status": state, "Running": state == "running", "Pid": 0}, "HostConfig": {}}
    return from_inspect(doc, INFO)


class FakeInventory:
    def __init__(self, containers: list[ContainerInfo]) -> None:
        self.items = containers
        self.listeners: list[Callable[[InventoryChange], None]] = []

    def containers(self, include_stopped: bool = True) -> list[ContainerInfo]:
        return [c for c in self.items if include_stopped or c.running]

    def subscribe(self, listener: Callable[[InventoryChange], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


class FakeBackend:
    name = "fake"

    def __init__(self) -> None:
        self.tracked: set[str] = set()
        self.fail: dict[str, Exception] = {}
        self.reads = 0
        self.closed = False

    def track(self, c: ContainerInfo) -> None:
        self.tracked.add(c.id)

    def untrack(self, cid: str) -> None:
        self.tracked.discard(cid)

    def read(self, c: ContainerInfo, time: float, monotonic: float) -> Sample | None:
        if c.id in self.fail:
            raise self.fail[c.id]
        self.reads += 1
        return Sample(time, monotonic, cpu_usage_seconds=monotonic * 0.5)

    def root(self, time: float, monotonic: float) -> None:
        return None

    def machine(self) -> None:
        return None

    def slow(self, cid: str) -> tuple[None, None]:
        return None, None

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(containers: list[ContainerInfo], history: int = 3) -> tuple[StatsSampler, FakeInventory, FakeBackend, Clock]:
    inv = FakeInventory(containers)
    backend = FakeBackend()
    clock = Clock()
    sampler = StatsSampler(inv, lambda: backend, interval=1.0, history=history, clock=clock,  # type: ignore[arg-type]
                           monotonic=clock)
    return sampler, inv, backend, clock


def test_sweeps_keep_bounded_history_and_rates() -> None:
    a, b, stopped = container("a"), container("b"), container("c", "exited")
    sampler, _, backend, clock = make([a, b, stopped])
    for _ in range(5):
        snap = sampler.sweep()
        clock.t += 1.0
    assert backend.tracked == {a.id, b.id}
    assert [c.name for c in snap.containers] == ["a", "b", "c"]
    assert set(snap.stats) == {a.id, b.id}
    hist = snap.stats[a.id].history
    assert len(hist) == 3 and hist[-1] is snap.stats[a.id].latest
    assert cpu_cores(hist[0], hist[-1]) == 0.5
    assert snap.health.sweeps == 5 and snap.health.errors == 0 and snap.health.backend == "fake"
    assert snap.health.last_success == 1004.0
    assert sampler.snapshot() is snap


def test_stopped_and_removed_containers_leave_at_once() -> None:
    a, b = container("a"), container("b")
    sampler, inv, backend, _ = make([a, b])
    sampler.sweep()
    inv.items = [a, replace(b, state="exited")]
    snap = sampler.reconcile()
    assert set(snap.stats) == {a.id} and backend.tracked == {a.id}
    inv.items = [a]
    snap = sampler.reconcile()
    assert [c.name for c in snap.containers] == ["a"]


def test_errors_are_counted_and_gone_is_not_an_error() -> None:
    a, b, c = container("a"), container("b"), container("c")
    sampler, _, backend, clock = make([a, b, c])
    sampler.sweep()
    backend.fail = {a.id: StatsUnavailable("stats of a: broken"), b.id: ContainerGone("gone")}
    clock.t += 1
    snap = sampler.sweep()
    assert snap.health.errors == 1 and snap.health.last_error == "stats of a: broken"
    assert snap.health.last_success == 1000.0
    assert b.id not in snap.stats  # gone: dropped, not an error
    assert a.id in snap.stats  # a read failure keeps the last good sample


def test_inventory_change_reconciles_before_the_next_tick() -> None:
    a = container("a")
    sampler, inv, backend, _ = make([a])
    sampler.interval = 30.0  # only the wake-up can remove it within the wait below
    sampler.start()
    try:
        wait_for(lambda: a.id in sampler.snapshot().stats, "first sweep")
        inv.items = []
        inv.listeners[0](InventoryChange(REMOVED, a))
        wait_for(lambda: a.id not in sampler.snapshot().stats, "the removed container to leave", timeout=5)
        assert backend.tracked == set()
    finally:
        sampler.stop()
    assert backend.closed and not sampler.snapshot().health.running


def test_rate_ignores_resets() -> None:
    s1, s2 = Sample(0, 0, cpu_usage_seconds=10.0), Sample(1, 2, cpu_usage_seconds=4.0)
    assert rate(s1, s2, lambda s: s.cpu_usage_seconds) is None
    assert rate(s2, s1, lambda s: s.cpu_usage_seconds) is None  # time went backwards
    assert cpu_cores(Sample(0, 0), Sample(1, 1)) is None


V1_DOC: dict[str, Any] = {
    "read": "2024-01-01T00:00:01.000000000Z",
    "pids_stats": {"current": 3, "limit": 18446744073709551615},
    "blkio_stats": {"io_service_bytes_recursive": [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096}, {"major": 8, "minor": 0, "op": "Write", "value": 8}],
        "io_serviced_recursive": [{"major": 8, "minor": 0, "op": "Read", "value": 2}]},
    "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000, "usage_in_kernelmode": 500_000_000,
                                "usage_in_usermode": 1_500_000_000},
                  "throttling_data": {"periods": 10, "throttled_periods": 8, "throttled_time": 300_000_000}},
    "memory_stats": {"usage": 5000, "max_usage": 9000, "failcnt": 1, "limit": 67108864,
                     "stats": {"total_inactive_file": 1000, "total_rss": 2500, "total_cache": 1500,
                               "total_mapped_file": 10}},
    "networks": {"eth0": {"rx_bytes": 10, "rx_packets": 1, "rx_errors": 0, "rx_dropped": 0, "tx_bytes": 20,
                          "tx_packets": 2, "tx_errors": 0, "tx_dropped": 1}},
}

V2_DOC: dict[str, Any] = {
    "cpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000}},
    "memory_stats": {"usage": 8000, "limit": 1 << 40,
                     "stats": {"anon": 3000, "file": 4000, "inactive_file": 2000, "file_mapped": 5}},
    "blkio_stats": {"io_service_bytes_recursive": None},
}


def test_api_document_v1() -> None:
    s = sample_from_stats(V1_DOC, 5.0, 6.0)
    assert (s.time, s.monotonic) == (5.0, 6.0)
    assert (s.cpu_usage_seconds, s.cpu_user_seconds, s.cpu_system_seconds) == (2.0, 1.5, 0.5)
    assert (s.cpu_cfs_periods, s.cpu_cfs_throttled_periods, s.cpu_cfs_throttled_seconds) == (10, 8, 0.3)
    assert (s.memory_usage_bytes, s.memory_working_set_bytes, s.memory_rss_bytes, s.memory_cache_bytes) == (
        5000, 4000, 2500, 1500)
    assert s.memory_failcnt == 1 and s.memory_max_usage_bytes == 9000
    assert s.threads == 3 and s.threads_max == 0 and s.processes is None and s.oom_events is None
    assert s.spec_memory_limit_bytes is None  # the API's limit is the host's memory when unlimited
    assert s.network is not None and s.network[0].tx_dropped == 1
    assert s.block_io is not None and (s.block_io[0].device, s.block_io[0].read_bytes, s.block_io[0].reads) == (
        "8:0", 4096, 2)


def test_api_document_v2_and_missing_parts() -> None:
    s = sample_from_stats(V2_DOC, 1.0, 1.0)
    assert s.cpu_usage_seconds == 1.0 and s.cpu_user_seconds is None and s.cpu_cfs_periods is None
    assert (s.memory_working_set_bytes, s.memory_rss_bytes, s.memory_cache_bytes) == (6000, 3000, 4000)
    assert s.memory_swap_bytes is None and s.network is None and s.block_io == ()
    assert sample_from_stats({}, 0, 0) == Sample(0, 0)


class SpecBackend(FakeBackend):
    """Samples carrying the cgroup's limits, as the cgroup backend's do."""

    def __init__(self) -> None:
        super().__init__()
        self.spec: dict[str, int | None] = {"spec_memory_limit_bytes": 64 << 20, "spec_cpu_quota_us": 50_000}

    def read(self, c: ContainerInfo, time: float, monotonic: float) -> Sample | None:
        return Sample(time, monotonic, **self.spec)  # type: ignore[arg-type]


def test_published_limits_follow_the_samples_spec_and_the_container() -> None:
    """The limits are kept between publishes only while the container and the sample's spec values are the same."""
    from observe.stats.limits import effective_limits

    a = container("a")
    inv = FakeInventory([a])
    backend = SpecBackend()
    clock = Clock()
    sampler = StatsSampler(inv, lambda: backend, clock=clock, monotonic=clock)  # type: ignore[arg-type]
    first = sampler.sweep().stats[a.id]
    assert first.limits == effective_limits(a, first.latest) and first.limits.memory_bytes == 64 << 20
    clock.t += 1
    assert sampler.sweep().stats[a.id].limits is first.limits
    backend.spec = {"spec_memory_limit_bytes": 32 << 20, "spec_cpu_quota_us": None}  # docker update, say
    clock.t += 1
    now = sampler.sweep().stats[a.id]
    assert now.limits == effective_limits(a, now.latest) and now.limits.memory_bytes == 32 << 20
    updated = replace(a, nano_cpus=500_000_000)  # the inspect document changed: quota from it (spec None)
    inv.items = [updated]
    clock.t += 1
    last = sampler.sweep().stats[a.id]
    assert last.limits == effective_limits(updated, last.latest) and last.limits.cpu_quota_us == 50_000
    assert last.limits != now.limits
