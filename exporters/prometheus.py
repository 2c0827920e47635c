"""The exposition of the core's snapshots: built once per sweep, served as bytes to every scrape.

Nothing is kept between builds but the rendered bytes, so a container that is gone is simply not in
the next exposition; and nothing here calls Docker: the sampler's snapshot is all a build reads.
The sampler calls ``Exposition.build`` on its own thread after each sweep (``start_exporter``
subscribes it), so a scrape only picks the bytes of the right variant: text or OpenMetrics, plain or
gzip. A variant other than plain text is made at the first scrape that asks for it, and from then on
with every build, so later scrapes find it ready. A scrape that finds the bytes older than the
sampler's snapshot (no sampler thread, as in tests) builds them itself, once, under a lock.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from exporters import specs
from exporters.autoscale.decision import Decision
from exporters.cadvisor import MACHINE_LABELS, VersionInfo, machine_labels, running_key
from exporters.coreview import ScrapeSource
from exporters.exposition import Family, Renderer, Section
from observe.model import ALL_LABELS, ContainerInfo
from observe.stats import StatsSnapshot
from observe.telemetry import LogCountersSnapshot, SinkStatus

BASE_LABELS = ("id", "name", "image")
GZIP_LEVEL = 1  # the families that changed are deflated at each build: speed over the last 5 %
EAGER_BUILDS = 2
"""A variant (text or OpenMetrics, plain or gzipped) scraped from one of the last this many builds is made with
each build, so that a scraper as frequent as the sweeps never waits for it; one scraped less often (Prometheus
at 15 s over a 1 s sweep) is made when its scrape asks, once per build, rather than at every build for nothing."""
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
SectionSource = Callable[[], Iterable[Section]]


@dataclass(frozen=True, slots=True)
class ScrapeInput:
    """What one build reads. ``log_counters`` and ``sinks`` are None when the core has no log path."""

    snapshot: StatsSnapshot
    log_counters: LogCountersSnapshot | None = None
    sinks: Sequence[SinkStatus] | None = None
    version: VersionInfo | None = None


def label_name(key: str) -> str:
    """``container_label_<key>``, the key sanitised as cAdvisor does (not ``[a-zA-Z0-9_]`` -> ``_``)."""
    return "container_label_" + _INVALID_LABEL_CHARS.sub("_", key)


def label_columns(allowlist: Sequence[str], containers: Iterable[ContainerInfo] = ()) -> tuple[tuple[str, str], ...]:
    """(Prometheus label name, Docker label key) for the allowlist; when two keys sanitise alike the first wins.

    ``*`` in the allowlist stands for every key any of ``containers`` carries (sorted), as cAdvisor puts
    the union of all containers' labels on every series.
    """
    keys = list(allowlist)
    if ALL_LABELS in keys:
        keys = sorted({k for c in containers for k in c.labels})
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for key in keys:
        name = label_name(key)
        if name not in seen and name not in BASE_LABELS:
            seen.add(name)
            out.append((name, key))
    return tuple(out)


def cadvisor_id(container: ContainerInfo) -> str:
    """cAdvisor's ``id`` label: the cgroup path (``/docker/<id>``, ``/system.slice/docker-<id>.scope``, ``/``)."""
    return "/" + container.cgroup.path.strip("/")


def core_source(core: ScrapeSource, version: str = "") -> Callable[[], ScrapeInput]:
    """Read a core: the sampler's snapshot, the log counters (when it collects logs) and the sink statuses."""
    facts = VersionInfo(version, dict(core.engine_facts())) if version else None

    def read() -> ScrapeInput:
        collecting = core.collecting
        counters = core.log_counters.snapshot() if collecting else None
        sinks = core.sink_statuses() if collecting else None
        return ScrapeInput(core.sampler.snapshot(), counters, sinks, facts)

    return read


LabelValues = dict[str, tuple[ContainerInfo, tuple[tuple[str, str], ...], tuple[str, ...]]]


def sections(data: ScrapeInput, allowlist: Sequence[str], kept: LabelValues | None = None) -> list[Section]:
    """Every table over its items for one snapshot (the scrape-duration row excepted).

    ``kept`` keeps each container's label values between calls (refreshed when the container or the
    label columns change); it ends up holding the containers of this snapshot only.
    """
    snap = data.snapshot
    columns = label_columns(allowlist, snap.containers)
    container_labels = BASE_LABELS + tuple(name for name, _ in columns)
    old = dict(kept) if kept is not None else {}

    def values(c: ContainerInfo) -> tuple[str, ...]:
        hit = old.get(c.id)
        if hit is not None and hit[0] is c and hit[1] == columns:
            return hit[2]
        return (cadvisor_id(c), c.name, c.image, *(c.labels.get(key, "") for _, key in columns))

    labels = {c.id: values(c) for c in snap.containers}
    if kept is not None:
        kept.clear()
        kept.update({c.id: (c, columns, labels[c.id]) for c in snap.containers})
    running = [(labels[cid], st) for cid, st in sorted(snap.stats.items(), key=lambda kv: kv[1].container.name)
               if cid in labels]
    if snap.root is not None:
        running.insert(0, (values(snap.root.container), snap.root))
    out = [Section(specs.RUNNING, running, container_labels, running_key)]
    if snap.machine is not None:
        out.append(Section(specs.MACHINE, [(machine_labels(snap.machine), snap.machine)], MACHINE_LABELS))
    if data.version is not None:
        out.append(Section(specs.VERSION, [((), data.version)], ()))
    out.append(Section(specs.CONTAINERS, [(labels[c.id], c) for c in snap.containers], container_labels,
                       _same))
    if data.log_counters is not None:
        known = {c.id: c for c in snap.containers}
        counters = data.log_counters
        rows = [(labels[cid], specs.LogSeries(known[cid], level, stream, lines,
                                              counters.bytes.get((cid, level, stream), 0)))
                for (cid, level, stream), lines in sorted(counters.lines.items()) if cid in known]
        out.append(Section(specs.LOGS, rows, container_labels))
        flags = [(labels[cid], specs.LogFlagSeries(known[cid], kind, n))
                 for (cid, kind), n in sorted(counters.flags.items()) if cid in known]
        out.append(Section(specs.LOG_FLAGS, flags, container_labels))
    if data.sinks is not None:
        out.append(Section(specs.SINKS, [((s.name, s.url), s) for s in data.sinks], ("sink", "url")))
    out.append(Section(specs.SAMPLER, [((), snap.health)], ()))
    return out


def _same(c: ContainerInfo) -> object:
    """A container's ``CONTAINERS`` rows read only the container (immutable): it is its own key."""
    return c


def decision_section(decisions: Sequence[Decision]) -> Section:
    """The ``specs.AUTOSCALE`` rows over the latest autoscaling decisions."""
    ordered = sorted(decisions, key=lambda d: d.service)
    return Section(specs.AUTOSCALE, [((d.service,), d) for d in ordered], ("service",))


@dataclass(slots=True)
class Built:
    """One build: the families it rendered and the variants made from it so far ((openmetrics, gzipped) ->
    bytes; the plain text is ``(False, False)``)."""

    snapshot: StatsSnapshot | None
    families: list[Family]
    variants: dict[tuple[bool, bool], bytes] = field(default_factory=dict)


class Exposition:
    """The ``/metrics`` bytes, rebuilt once per sweep.

    Args:
        source: what to expose; called once per build, must not block on Docker.
        label_allowlist: Docker label keys exported as ``container_label_<key>`` (``*``: all of them).
        timer: clock for the build's own duration (``observe_exporter_scrape_duration_seconds``).
    """

    def __init__(self, source: Callable[[], ScrapeInput], label_allowlist: Sequence[str] = (),
                 timer: Callable[[], float] = time.perf_counter) -> None:
        self.source = source
        self.allowlist = tuple(label_allowlist)
        self.timer = timer
        self.extra: list[SectionSource] = []
        self.builds = 0
        self._lock = threading.Lock()  # the renderer's caches are shared between builds and variants
        self._building = threading.Lock()
        self._built: Built | None = None
        self._renderer = Renderer(GZIP_LEVEL)
        self._label_values: LabelValues = {}
        self._asked: dict[tuple[bool, bool], int] = {}  # variant -> the build its last scrape was served from

    def add(self, source: SectionSource) -> None:
        """Also expose what ``source`` gives at every build (the autoscaler's decisions)."""
        self.extra.append(source)

    def build(self, snapshot: StatsSnapshot | None = None) -> Built:
        """Render everything now (the sampler's listener calls it with the snapshot it just published)."""
        with self._building:
            started = self.timer()
            data = self.source()
            if snapshot is not None and snapshot is not data.snapshot:
                data = ScrapeInput(snapshot, data.log_counters, data.sinks, data.version)
            parts = sections(data, self.allowlist, self._label_values)
            for extra in self.extra:
                parts.extend(extra())
            with self._lock:
                families = self._renderer.families(parts)
                self._renderer.turn()
                elapsed = self.timer() - started
                families += self._renderer.families([Section(specs.SCRAPE, [((), elapsed)], ())])
                built = Built(data.snapshot, families)
                for key, last in list(self._asked.items()):  # so that no scrape waits for its variant to be made
                    if self.builds - last < EAGER_BUILDS:
                        self._variant(built, key)
                self._built = built
                self.builds += 1
            return built

    def _variant(self, built: Built, key: tuple[bool, bool]) -> bytes:
        openmetrics, gzipped = key
        found = built.variants.get(key)
        if found is None:
            if gzipped:
                found = self._renderer.gzip(built.families, openmetrics)
            else:
                found = self._renderer.text(built.families, openmetrics)
            built.variants[key] = found
        return found

    def current(self, snapshot: StatsSnapshot | None = None) -> Built:
        """The latest build; rebuilt first when it is older than ``snapshot`` (or when there is none).

        While a build is under way (the sampler's, after a sweep) a scrape gets the previous build rather
        than making the same one a second time.
        """
        built = self._built
        if built is not None and (snapshot is None or built.snapshot is snapshot or self._building.locked()):
            return built
        with self._building:
            built = self._built
            if built is not None and (snapshot is None or built.snapshot is snapshot):
                return built
        return self.build(snapshot)

    def body(self, openmetrics: bool = False, gzipped: bool = False, snapshot: StatsSnapshot | None = None) -> bytes:
        """The bytes of one variant of the latest build (made once per build)."""
        built = self.current(snapshot)
        key = (openmetrics, gzipped)
        found = built.variants.get(key)
        self._asked[key] = self.builds
        if found is not None:
            return found
        with self._lock:
            return self._variant(built, key)
