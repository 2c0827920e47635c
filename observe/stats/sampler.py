"""The stats sampler: a background loop keeping the latest sample and a short history per container.

It follows the inventory (running, selected containers), reads every one of them once per
interval through a backend (cgroup files for a local engine, the streaming API otherwise) and
publishes an immutable ``StatsSnapshot``. Readers (the Prometheus collector, the TUI, the
autoscaler) only ever see snapshots, so a scrape never waits on Docker or on a sweep.
"""

from __future__ import annotations

import logging
import operator
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Protocol

from observe.engine import Engine
from observe.engine.inspect import engine_cgroup
from observe.inventory import REMOVED, Inventory, InventoryChange
from observe.model import ContainerInfo
from observe.stats.cgroup import CgroupReader
from observe.stats.host import FsUsage, MachineInfo
from observe.stats.limits import Limits, effective_limits
from observe.stats.local import CgroupBackend
from observe.stats.sample import ContainerGone, Sample, StatsUnavailable
from observe.stats.snapshot import ContainerStats, SamplerHealth, StatsSnapshot

log = logging.getLogger(__name__)
DEFAULT_HISTORY = 300
_SPEC = operator.attrgetter("spec_cpu_quota_us", "spec_cpu_period_us", "spec_cpu_shares", "spec_memory_limit_bytes",
                            "spec_memory_reservation_bytes", "spec_memory_swap_limit_bytes")
"""What ``effective_limits`` reads of a sample."""


class StatsBackend(Protocol):
    """Where samples come from. ``track``/``untrack`` follow the running set; ``read`` is called once per sweep."""

    name: str

    def track(self, container: ContainerInfo) -> None: ...

    def untrack(self, container_id: str) -> None: ...

    def read(self, container: ContainerInfo, time: float, monotonic: float) -> Sample | None:
        """A sample, or None when none is available yet. Raises StatsUnavailable / ContainerGone."""

    def root(self, time: float, monotonic: float) -> ContainerStats | None:
        """The root cgroup (the machine as a whole), where the backend can read it."""

    def machine(self) -> MachineInfo | None: ...

    def slow(self, container_id: str) -> tuple[tuple[FsUsage, ...] | None, tuple[tuple[str, int], ...] | None]:
        """A container's latest disk usage and task states, from the slow schedule (None: not known)."""

    def close(self) -> None: ...


def choose_backend(engine: Engine, cgroup_root: str, proc_root: str, percpu: bool = True,
                   disk_interval: float = 60.0) -> StatsBackend:
    """The cgroup backend when the engine is local and its cgroup files are where we look; else the API."""
    if engine.is_local:
        driver, version = engine_cgroup(engine.info())
        reader = CgroupReader(cgroup_root, version, proc_root, percpu=percpu)
        if reader.available():
            return CgroupBackend(reader, disk_interval, cgroup_driver=driver)
        log.warning("cgroup files not found; using the stats API",
                    extra={"event": "StatsBackendFallback", "cgroup_root": cgroup_root})
    from observe.stats.api import ApiBackend

    return ApiBackend(engine)


class StatsSampler:
    """Samples every running, selected container once per ``interval`` seconds on its own thread.

    Args:
        inventory: the live inventory to follow.
        backend_factory: builds the backend at ``start`` (choosing it needs the engine).
        interval: seconds between sweeps.
        history: samples kept per container (300 at 1 s: five minutes of graph).
        clock: wall clock (unix seconds), for sample times.
        monotonic: monotonic clock, for rates and sweep durations.
    """

    def __init__(
        self,
        inventory: Inventory,
        backend_factory: Callable[[], StatsBackend],
        interval: float = 1.0,
        history: int = DEFAULT_HISTORY,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inventory = inventory
        self.backend_factory = backend_factory
        self.interval = interval
        self.history_size = history
        self.clock = clock
        self.monotonic = monotonic
        self.backend: StatsBackend | None = None
        self._lock = threading.Lock()
        self._history: dict[str, deque[Sample]] = {}
        self._limits: dict[str, tuple[ContainerInfo, object, Limits]] = {}  # reused while the same
        self._tracked: set[str] = set()
        self._containers: tuple[ContainerInfo, ...] = ()
        self._health = SamplerHealth(interval=interval)
        self._snapshot = StatsSnapshot(time=clock(), health=self._health)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._root: ContainerStats | None = None
        self._listeners: list[Callable[[StatsSnapshot], None]] = []

    # -- reading -------------------------------------------------------------------------
    def snapshot(self) -> StatsSnapshot:
        """The immutable result of the last sweep (or of the last inventory change)."""
        return self._snapshot

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        """Choose the backend and start sweeping. Idempotent. The inventory should be started first."""
        if self._thread is not None:
            return
        self.ensure_backend()
        self._unsubscribe = self.inventory.subscribe(self._on_change)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="observe-sampler", daemon=True)
        self._thread.start()

    def ensure_backend(self) -> StatsBackend:
        if self.backend is None:
            self.backend = self.backend_factory()
            self._health = replace(self._health, backend=self.backend.name, running=True)
            log.info("stats sampler ready", extra={"event": "StatsSamplerStarted", "backend": self.backend.name})
        return self.backend

    def _on_change(self, change: InventoryChange) -> None:
        # On the inventory's thread: only nudge the loop, which reconciles at once.
        if change.kind == REMOVED or not change.container.running or change.container.id not in self._tracked:
            self._wake.set()

    def _run(self) -> None:
        next_at = self.monotonic()
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception as err:  # the loop must outlive any bug in one sweep
                log.exception("stats sweep failed", extra={"event": "StatsSweepFailed"})
                with self._lock:
                    self._health = replace(self._health, errors=self._health.errors + 1, last_error=repr(err))
            next_at += self.interval
            now = self.monotonic()
            if next_at < now:  # a sweep overran: skip the missed ticks rather than catch up in a burst
                next_at = now + self.interval
            while not self._stop.is_set():
                remaining = next_at - self.monotonic()
                if remaining <= 0:
                    break
                if self._wake.wait(remaining):
                    self._wake.clear()
                    if not self._stop.is_set():
                        self.reconcile()

    def stop(self) -> None:
        """Stop the loop and close the backend (its streams, for the API backend)."""
        self._stop.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.backend is not None:
            self.backend.close()
        with self._lock:
            self._health = replace(self._health, running=False)
            self._snapshot = replace(self._snapshot, health=self._health)

    # -- one pass ------------------------------------------------------------------------
    def _reconcile_locked(self, backend: StatsBackend) -> list[ContainerInfo]:
        containers = self.inventory.containers(include_stopped=True)
        running = [c for c in containers if c.state == "running" or c.state == "paused"]
        running_ids = {c.id for c in running}
        for cid in self._tracked - running_ids:
            backend.untrack(cid)
            self._history.pop(cid, None)
            self._limits.pop(cid, None)
        for c in running:
            backend.track(c)
        self._tracked = running_ids
        self._containers = tuple(containers)
        return running

    def reconcile(self) -> StatsSnapshot:
        """Follow the inventory now without reading: gone containers leave the snapshot at once."""
        backend = self.ensure_backend()
        with self._lock:
            self._reconcile_locked(backend)
            self._publish()
        return self._snapshot

    def sweep(self) -> StatsSnapshot:
        """Read every running container once and publish a new snapshot (also usable without the thread)."""
        backend = self.ensure_backend()
        with self._lock:
            started = self.monotonic()
            running = self._reconcile_locked(backend)
            errors = 0
            last_error = ""
            for c in running:
                now, mono = self.clock(), self.monotonic()
                try:
                    sample = backend.read(c, now, mono)
                except ContainerGone:
                    self._history.pop(c.id, None)
                    continue
                except StatsUnavailable as err:
                    errors += 1
                    last_error = str(err)
                    continue
                except OSError as err:
                    errors += 1
                    last_error = f"stats of {c.name}: {err.strerror or err}"
                    continue
                if sample is None:
                    continue
                ring = self._history.get(c.id)
                if ring is None:
                    ring = self._history[c.id] = deque(maxlen=self.history_size)
                ring.append(sample)
            self._root = None
            try:
                self._root = backend.root(self.clock(), self.monotonic())
            except (StatsUnavailable, OSError) as err:
                errors += 1
                last_error = f"stats of the root cgroup: {err}"
            duration = self.monotonic() - started
            h = self._health
            self._health = replace(
                h,
                sweeps=h.sweeps + 1,
                errors=h.errors + errors,
                last_sweep_seconds=duration,
                last_success=self.clock() if errors == 0 else h.last_success,
                last_error=last_error if errors else h.last_error,
                last_sweep_errors=errors,
            )
            if errors:
                log.debug("stats sweep had errors", extra={"event": "StatsSweepErrors", "errors": errors,
                                                           "error": last_error})
            self._publish()
        return self._snapshot

    def _publish(self) -> None:
        containers = self._containers
        backend = self.backend
        stats: dict[str, ContainerStats] = {}
        for c in containers:
            ring = self._history.get(c.id)
            if ring and c.id in self._tracked:
                fs, tasks = backend.slow(c.id) if backend is not None else (None, None)
                latest = ring[-1]
                spec = _SPEC(latest)
                known = self._limits.get(c.id)
                if known is None or known[0] is not c or known[1] != spec:  # else the same limits as last time
                    known = self._limits[c.id] = (c, spec, effective_limits(c, latest))
                stats[c.id] = ContainerStats(c, latest, tuple(ring), fs, tasks, known[2])
        machine = backend.machine() if backend is not None else None
        self._snapshot = StatsSnapshot(self.clock(), containers, MappingProxyType(stats), self._health,
                                       self._root, machine)
        for listener in list(self._listeners):
            try:
                listener(self._snapshot)
            except Exception:  # a listener's bug must not stop the sampler
                log.exception("snapshot listener failed", extra={"event": "StatsListenerFailed"})

    def subscribe(self, listener: Callable[[StatsSnapshot], None]) -> Callable[[], None]:
        """Call ``listener`` on the sampler's thread with each snapshot it publishes; returns the unsubscribe.

        The exporter builds its exposition here, once per sweep. Keep listeners quick: the next
        sweep waits for them.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe
