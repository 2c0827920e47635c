"""Builds that keep what did not change: every result equal to a fresh render, whatever changed.

The renderer reuses an item's lines while its key is equal and deflates only the families whose
bytes changed; these tests change one thing at a time (every field of a sample, the slow figures,
the limits, the container, the labels) and compare the kept build with one made from nothing.
"""

from __future__ import annotations

import dataclasses
import gzip
import threading
from types import MappingProxyType
from typing import Any

import pytest

import exporters.exposition as exposition_module
from exporters.prometheus import Exposition, ScrapeInput
from observe.stats import ContainerStats, DeviceIO, InterfaceCounters, Pressure, Sample, StatsSnapshot
from observe.stats.host import FsUsage
from tests.exporters.test_exposition import fixture_input

ALLOW = ("com.docker.compose.service", "app.kubernetes.io/name")


@pytest.fixture(autouse=True, params=[1, 2, 16])
def block(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Blocks of one item (each deflated alone), two (blocks mixing changed and unchanged items) and the default."""
    monkeypatch.setattr(exposition_module, "BLOCK", request.param)
    return int(request.param)


def fresh(data: ScrapeInput, openmetrics: bool) -> bytes:
    return Exposition(lambda: data, ALLOW, timer=lambda: 1.0).body(openmetrics=openmetrics)


def changed(value: Any) -> Any:
    """A different value of the same kind (None becomes a number, so absent series appear)."""
    if value is None:
        return 7
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 3
    if isinstance(value, tuple):
        return value[:-1] if value else None
    raise AssertionError(f"no change for {value!r}")


def with_web(data: ScrapeInput, **kw: Any) -> ScrapeInput:
    snap = data.snapshot
    stats = dict(snap.stats)
    cid, st = next((k, v) for k, v in stats.items() if v.container.name == "web-1")
    stats[cid] = dataclasses.replace(st, **kw)
    return ScrapeInput(dataclasses.replace(snap, stats=MappingProxyType(stats)), data.log_counters, data.sinks,
                       data.version)


def web(data: ScrapeInput) -> ContainerStats:
    return next(v for v in data.snapshot.stats.values() if v.container.name == "web-1")


def check_kept_equals_fresh(steps: list[ScrapeInput]) -> None:
    current = [steps[0]]
    kept = Exposition(lambda: current[0], ALLOW, timer=lambda: 1.0)
    for data in steps:
        current[0] = data
        kept.build(data.snapshot)
        for om in (False, True):
            expected = fresh(data, om)
            assert kept.body(openmetrics=om) == expected
            assert gzip.decompress(kept.body(openmetrics=om, gzipped=True)) == expected


TUPLES: dict[str, Any] = {
    "pressure": (Pressure("cpu", 1.0, None), Pressure("io", 2.0, 0.5)),
    "memory_refaults": (("anon", 9),),
    "memory_events": (("oom", 2), ("max", 1)),
    "network": (InterfaceCounters("eth1", 1, 2, 3, 4, 5, 6, 7, 8),),
    "block_io": (DeviceIO("/dev/vdb", 1, 2, 3, 4, 254, 16, bytes_by_op=(("Read", 1),)),),
}


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Sample)])
def test_each_sample_field_changed_alone(name: str) -> None:
    base = fixture_input()
    sample = web(base).latest
    value = getattr(sample, name)
    if name in TUPLES:
        new = TUPLES[name] if value != TUPLES[name] else ()
    elif name == "cpu_percpu_seconds":
        new = (value[0] + 1.5, *value[1:])
    else:
        new = changed(value)
    other = dataclasses.replace(sample, **{name: new})
    check_kept_equals_fresh([base, with_web(base, latest=other), base])


def test_slow_figures_limits_and_container_changed() -> None:
    base = fixture_input()
    st = web(base)
    fs = (FsUsage("/dev/vda1", 1, 2, 3, 4),)
    container = dataclasses.replace(st.container, health="unhealthy")
    steps = [base, with_web(base, fs=fs), with_web(base, tasks=(("running", 9),)),
             with_web(base, effective=dataclasses.replace(st.limits, memory_bytes=5)),
             with_web(base, container=container), base]
    check_kept_equals_fresh(steps)


def test_containers_come_and_go() -> None:
    base = fixture_input()
    snap = base.snapshot
    st = web(base)
    without = ScrapeInput(StatsSnapshot(snap.time, tuple(c for c in snap.containers if c.id != st.container.id),
                                        MappingProxyType({k: v for k, v in snap.stats.items()
                                                          if k != st.container.id}),
                                        snap.health, snap.root, snap.machine), base.log_counters, base.sinks,
                          base.version)
    check_kept_equals_fresh([base, without, base, without])


def test_only_the_sample_time_changed_updates_last_seen() -> None:
    base = fixture_input()
    later = dataclasses.replace(web(base).latest, time=web(base).latest.time + 60)
    moved = with_web(base, latest=later)
    check_kept_equals_fresh([base, moved])
    assert f"{later.time:.1f}".rstrip("0").encode() in fresh(moved, False)


def test_scrape_during_a_build_gets_the_previous_one() -> None:
    first = fixture_input()
    release, entered = threading.Event(), threading.Event()
    source = [first]
    exposition = Exposition(lambda: source[0], ALLOW)
    old = exposition.body(snapshot=first.snapshot)

    def slow() -> ScrapeInput:
        entered.set()
        release.wait(10)
        return second

    second = ScrapeInput(dataclasses.replace(first.snapshot, time=first.snapshot.time + 1), first.log_counters,
                         first.sinks, first.version)
    source[0] = second
    exposition.source = slow
    builder = threading.Thread(target=exposition.build, args=(second.snapshot,))
    builder.start()
    try:
        assert entered.wait(10), "the build never started"
        assert exposition.body(snapshot=second.snapshot) is old  # served at once, not built a second time
    finally:
        release.set()
        builder.join(10)
    assert exposition.builds == 2


def test_a_container_whose_labels_or_name_changed() -> None:
    base = fixture_input()
    st = web(base)
    snap = base.snapshot
    renamed = dataclasses.replace(st.container, name="web-2", labels={**st.container.labels,
                                                                      "com.docker.compose.service": "api"})
    containers = tuple(renamed if c.id == renamed.id else c for c in snap.containers)
    stats = {k: (dataclasses.replace(v, container=renamed) if k == renamed.id else v) for k, v in snap.stats.items()}
    moved = ScrapeInput(dataclasses.replace(snap, containers=containers, stats=MappingProxyType(stats)),
                        base.log_counters, base.sinks, base.version)
    check_kept_equals_fresh([base, moved, base])
    assert b'name="web-2"' in fresh(moved, False) and b'container_label_com_docker_compose_service="api"' in fresh(
        moved, False)


def test_builds_where_only_the_clocks_move_and_where_the_order_changes() -> None:
    """Every item kept but for its volatile rows: the section's other families are reused; the same items in
    another order, or one more or less, are not."""
    base = fixture_input()
    snap = base.snapshot
    st = web(base)
    ticks = [with_web(base, latest=dataclasses.replace(st.latest, time=st.latest.time + k)) for k in (1, 2, 3)]
    reordered = ScrapeInput(dataclasses.replace(snap, containers=tuple(reversed(snap.containers)),
                                                stats=MappingProxyType(dict(reversed(list(snap.stats.items()))))),
                            base.log_counters, base.sinks, base.version)
    check_kept_equals_fresh([base, *ticks, reordered, ticks[0], base, base])


def test_variants_are_made_with_each_build_only_while_they_are_scraped_as_often() -> None:
    from exporters.prometheus import EAGER_BUILDS

    data = fixture_input()
    exp = Exposition(lambda: data, ALLOW, timer=lambda: 1.0)
    built = exp.build(data.snapshot)
    assert built.variants == {}, "nothing made before anyone asked"
    body = exp.body(openmetrics=True, gzipped=True)
    for _ in range(EAGER_BUILDS):
        assert (True, True) in exp.build(data.snapshot).variants, "made with the build: the scrape waits for nothing"
    later = exp.build(data.snapshot)
    assert later.variants == {}, "not scraped for a while: made when asked, not at every build"
    assert exp.body(openmetrics=True, gzipped=True) == body
    assert gzip.decompress(body) == fresh(data, True)
    assert (True, True) in exp.build(data.snapshot).variants
