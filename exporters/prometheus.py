"""The Prometheus collector: metrics built afresh at every scrape from the core's snapshots.

Nothing is kept between scrapes, so a container that is gone is simply not in the next
exposition; and nothing here calls Docker: the sampler's snapshot is all a scrape reads.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, UnknownMetricFamily
from prometheus_client.registry import CollectorRegistry

from exporters import specs
from exporters.autoscale.decision import Decision
from exporters.coreview import ScrapeSource
from exporters.specs import COUNTER, GAUGE, LogFlagSeries, LogSeries, MetricSpec
from observe.model import ContainerInfo
from observe.stats import StatsSnapshot
from observe.telemetry import LogCountersSnapshot, SinkStatus

T = TypeVar("T")
BASE_LABELS = ("id", "name", "image")
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True, slots=True)
class ScrapeInput:
    """What one scrape reads. ``log_counters`` and ``sinks`` are None when the core has no log path."""

    snapshot: StatsSnapshot
    log_counters: LogCountersSnapshot | None = None
    sinks: Sequence[SinkStatus] | None = None


def label_name(key: str) -> str:
    """``container_label_<key>``, the key sanitised as cAdvisor does (not ``[a-zA-Z0-9_]`` -> ``_``)."""
    return "container_label_" + _INVALID_LABEL_CHARS.sub("_", key)


def label_columns(allowlist: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(Prometheus label name, Docker label key) for the allowlist; when two keys sanitise alike the first wins."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for key in allowlist:
        name = label_name(key)
        if name not in seen and name not in BASE_LABELS:
            seen.add(name)
            out.append((name, key))
    return tuple(out)


def cadvisor_id(container: ContainerInfo) -> str:
    """cAdvisor's ``id`` label: the cgroup path (``/docker/<id>``, ``/system.slice/docker-<id>.scope``)."""
    return "/" + container.cgroup.path.strip("/")


Family = CounterMetricFamily | GaugeMetricFamily | UnknownMetricFamily


def _family(spec: MetricSpec[Any], labels: Sequence[str]) -> Family:
    name = spec.name
    if spec.type == COUNTER:
        family = name[: -len("_total")] if name.endswith("_total") else name
        unit = spec.unit if spec.unit and family.endswith("_" + spec.unit) else ""
        return CounterMetricFamily(family, spec.help, labels=labels, unit=unit)
    unit = spec.unit if spec.unit and name.endswith("_" + spec.unit) else ""
    if spec.type == GAUGE:
        return GaugeMetricFamily(name, spec.help, labels=labels, unit=unit)
    return UnknownMetricFamily(name, spec.help, labels=labels, unit=unit)


def build_families(table: Sequence[MetricSpec[T]], items: Sequence[tuple[tuple[str, ...], T]],
                   item_labels: tuple[str, ...]) -> Iterator[Metric]:
    """One family per row of ``table``, with the series of every (item label values, item) pair."""
    for spec in table:
        family = _family(spec, item_labels + spec.labels)
        for base, item in items:
            for extra, value in spec.getter(item):
                family.add_metric([*base, *extra], value)
        yield family


def core_source(core: ScrapeSource) -> Callable[[], ScrapeInput]:
    """Read a core: the sampler's snapshot, the log counters and the sink statuses."""

    def read() -> ScrapeInput:
        return ScrapeInput(core.sampler.snapshot(), core.log_counters.snapshot(), core.sink_statuses())

    return read


class ObserveCollector:
    """A prometheus_client custom collector over the core's snapshots.

    Args:
        source: returns what to expose; called once per scrape, must not block on Docker.
        label_allowlist: Docker label keys exported as ``container_label_<key>`` (never all labels).
        timer: clock for the scrape's own duration.
    """

    def __init__(self, source: Callable[[], ScrapeInput], label_allowlist: Sequence[str] = (),
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self.source = source
        self.columns = label_columns(label_allowlist)
        self.container_labels = BASE_LABELS + tuple(name for name, _ in self.columns)
        self.timer = timer

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the metric set depends on what the core has at scrape time."""
        return []

    def container_label_values(self, c: ContainerInfo) -> tuple[str, ...]:
        return (cadvisor_id(c), c.name, c.image, *(c.labels.get(key, "") for _, key in self.columns))

    def _build(self, table: Sequence[MetricSpec[T]], items: Sequence[tuple[tuple[str, ...], T]],
               item_labels: tuple[str, ...]) -> Iterator[Metric]:
        return build_families(table, items, item_labels)

    def collect(self) -> Iterator[Metric]:
        started = self.timer()
        data = self.source()
        snap = data.snapshot
        label_cache = {c.id: self.container_label_values(c) for c in snap.containers}
        out: list[Metric] = []
        running = [(label_cache[cid], st) for cid, st in sorted(snap.stats.items(), key=lambda kv: kv[1].container.name)
                   if cid in label_cache]
        out += self._build(specs.RUNNING, running, self.container_labels)
        out += self._build(specs.CONTAINERS, [(label_cache[c.id], c) for c in snap.containers], self.container_labels)
        if data.log_counters is not None:
            known = {c.id: c for c in snap.containers}
            rows = [
                (label_cache[cid], LogSeries(known[cid], level, stream, lines,
                                             data.log_counters.bytes.get((cid, level, stream), 0)))
                for (cid, level, stream), lines in sorted(data.log_counters.lines.items()) if cid in known
            ]
            out += self._build(specs.LOGS, rows, self.container_labels)
            flags = [(label_cache[cid], LogFlagSeries(known[cid], kind, n))
                     for (cid, kind), n in sorted(data.log_counters.flags.items()) if cid in known]
            out += self._build(specs.LOG_FLAGS, flags, self.container_labels)
        if data.sinks is not None:
            out += self._build(specs.SINKS, [((s.name, s.url), s) for s in data.sinks], ("sink", "url"))
        out += self._build(specs.SAMPLER, [((), snap.health)], ())
        yield from out
        yield from self._build(specs.SCRAPE, [((), self.timer() - started)], ())


class DecisionCollector:
    """Exposes the ``specs.AUTOSCALE`` rows from the latest autoscaling decisions, read at each scrape.

    Args:
        source: returns the latest decision of every service with a policy; must not block.
    """

    def __init__(self, source: Callable[[], Sequence[Decision]]) -> None:
        self.source = source

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        decisions = sorted(self.source(), key=lambda d: d.service)
        yield from build_families(specs.AUTOSCALE, [((d.service,), d) for d in decisions], ("service",))


def make_registry(collector: ObserveCollector) -> CollectorRegistry:
    """A fresh registry holding only our collector (never the global one, never process metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
