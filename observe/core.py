"""The composition root: ``build_core(config)`` wires the core's parts; nothing else does.

Faces (the CLI, the exporter, the TUI) receive a ``Core`` and read it; they never build
engine clients of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from observe.config import Config
from observe.engine import CONTAINER_VERBS, Engine, ExecSocket
from observe.errors import ObserveError
from observe.inventory import Inventory
from observe.logs.normalise import NormaliseOptions
from observe.model import ContainerEvent, ContainerInfo, Record, StreamState
from observe.stats.sampler import StatsSampler, choose_backend
from observe.telemetry import LogCounters, SinkStatus

if TYPE_CHECKING:
    from observe.logs.collector import Collector
    from observe.logs.delivery import Delivery

log = logging.getLogger(__name__)


class Core:
    """The collector core as the faces see it.

    Args:
        config: the effective configuration.
        engine: a connected engine (``build_core`` makes one).
    """

    def __init__(self, config: Config, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.inventory = Inventory(engine, config.selection, config.service_label)
        self.sampler = StatsSampler(
            self.inventory,
            lambda: choose_backend(engine, config.cgroup_root, config.proc_root, config.percpu,
                                   config.disk_usage_interval),
            interval=config.interval,
        )
        self.log_counters = LogCounters()
        self.collector: Collector | None = None
        self.delivery: Delivery | None = None
        self._worker_statuses: Callable[[], list[SinkStatus]] | None = None
        self._started = False

    # -- logs ------------------------------------------------------------------------------
    def normalise_options(self) -> NormaliseOptions:
        """How records are built, from the configuration; ``host.name`` is ``--host-name``, else the engine's host."""
        cfg = self.config
        host = cfg.host_name
        if not host:
            try:
                host = str(self.engine.info().get("Name") or "")
            except ObserveError:
                host = ""
        return NormaliseOptions(
            host_name=host,
            label_allowlist=cfg.label_allowlist,
            json_key=cfg.json_key,
            default_level={"stdout": cfg.stdout_level, "stderr": cfg.stderr_level},
            strip_ansi=cfg.strip_ansi,
            max_line_bytes=cfg.max_line_bytes,
            multiline=cfg.multiline,
            flush_timeout=cfg.flush_timeout,
            drop_blank=cfg.drop_blank_lines,
        )

    def start_collector(self, shard: tuple[int, int] = (0, 1)) -> Collector:
        """Start the log collector: every selected container's records to the configured sinks.

        Args:
            shard: ``(k, n)``: as worker k of n (``observe.logs.workers``), only that shard of the
                containers, with that shard's checkpoint file. ``(0, 1)`` first rewrites the
                checkpoints any earlier worker layout left into the one file.

        Raises:
            ConfigError: a sink URL or the state directory is invalid.
            EngineUnavailable: the engine cannot be listed.
        """
        from observe.logs.checkpoints import CheckpointStore, consolidate
        from observe.logs.collector import Collector, CollectorOptions
        from observe.logs.delivery import Delivery
        from observe.logs.sinks import open_sink

        cfg = self.config
        sinks = [open_sink(url, cfg.output_format) for url in cfg.sink]
        if shard[1] <= 1:
            consolidate(cfg.state_dir, 1)
        store = CheckpointStore(cfg.state_dir, *shard)
        self.start()
        self.delivery = Delivery(sinks, store)
        self.delivery.start()
        options = CollectorOptions(self.normalise_options(), reader=cfg.reader, read_from_head=cfg.read_from_head,
                                   stall_timeout=cfg.stall_timeout, shard=shard, split_backlog=cfg.split_backlog)
        self.collector = Collector(self.engine, self.inventory, self.delivery, store, self.log_counters, options)
        self.collector.start()
        return self.collector

    def stop_collector(self, timeout: float) -> bool:
        """Stop reading, deliver what is in flight (within ``timeout`` seconds), save checkpoints.

        Returns:
            True when every record read was delivered.
        """
        if self.collector is None or self.delivery is None:
            return True
        deadline = time.monotonic() + timeout
        self.collector.stop(deadline)
        delivered = self.delivery.finish(deadline)
        if self.collector.checkpoints is not None:
            self.collector.checkpoints.save(force=True)
        return delivered

    def sink_statuses(self) -> list[SinkStatus]:
        """Delivery state of every sink (empty when the collector is not running)."""
        if self._worker_statuses is not None:
            return self._worker_statuses()
        return self.delivery.statuses() if self.delivery is not None else []

    @property
    def collecting(self) -> bool:
        """Logs are collected: by this core's collector, or by worker processes it reports for."""
        return self.collector is not None or self._worker_statuses is not None

    def use_workers(self, counters: LogCounters, statuses: Callable[[], list[SinkStatus]]) -> None:
        """Report the log path of worker processes (``observe.logs.workers``) instead of an own collector."""
        self.log_counters = counters
        self._worker_statuses = statuses

    def follow_logs(self, container_id: str, on_records: Callable[[list[Record]], None],
                    tail: int = 500, on_state: Callable[[StreamState], None] | None = None) -> Callable[[], None]:
        """Stream a container's normalised records (the last ``tail`` first) to ``on_records``.

        ``on_records`` is called from a core thread with batches in order; the returned
        function stops the stream. A local json-file log is read from its file (as the
        collector reads it: no engine round trip, no stream to keep open), any other through
        the engine API. The stream persists through engine outages and restarts of the
        container; ``on_state`` is told where it stands (``StreamState``: following, retrying,
        waiting, ended, error) from a core thread.

        Raises:
            ContainerNotFound: no such container.
        """
        from observe.engine.inspect import from_inspect
        from observe.logs.follow import FollowOptions, follow_records

        info = self.inventory.get(container_id)
        if info is None:
            info = from_inspect(self.engine.inspect(container_id), self.engine.info(), self.config.service_label)
        stopped = threading.Event()

        def state(new: StreamState) -> None:
            if on_state is not None and not stopped.is_set():
                on_state(new)

        def deliver(records: list[Record]) -> None:
            if not stopped.is_set():
                on_records(records)

        options = FollowOptions(reader=self.config.reader, tail=tail, stall_timeout=self.config.stall_timeout,
                                persistent=True)
        follow = follow_records(self.engine, info, self.normalise_options(), deliver, options, on_state=state)

        def stop() -> None:
            stopped.set()
            follow.stop()

        return stop

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start following the engine. Raises EngineUnavailable when it cannot be listed."""
        if not self._started:
            self.inventory.start()
            self._started = True

    def start_sampler(self) -> None:
        """Start the inventory (if needed) and the stats sampler. Idempotent.

        Raises:
            EngineUnavailable: the engine cannot be listed.
        """
        self.start()
        self.sampler.start()

    def stop(self) -> None:
        self.sampler.stop()
        if self._started:
            self.inventory.stop()
            self._started = False
        self.engine.close()

    def inspect(self, ref: str) -> Mapping[str, Any]:
        """The inspect document of a container by name, id or id prefix.

        Raises:
            ContainerNotFound: no such container.
        """
        known = self.inventory.get(ref)
        return self.engine.inspect(known.id if known else ref)

    def engine_facts(self) -> dict[str, str]:
        """What the engine says of itself and its host, as strings (empty when it cannot be asked).

        Keys: ``docker_version``, ``kernel_version``, ``os_version``, ``os_type``, ``engine_id``,
        ``storage_driver``, ``docker_root_dir``. The engine's ``/info`` is cached, so this is cheap.
        """
        try:
            info = self.engine.info()
        except ObserveError:
            return {}
        keys = {"docker_version": "ServerVersion", "kernel_version": "KernelVersion", "os_version": "OperatingSystem",
                "os_type": "OSType", "engine_id": "ID", "storage_driver": "Driver", "docker_root_dir": "DockerRootDir"}
        return {ours: str(info.get(theirs) or "") for ours, theirs in keys.items()}

    def container(self, ref: str) -> ContainerInfo | None:
        return self.inventory.get(ref)

    def past_events(self, container_id: str, since: float, until: float | None = None) -> list[ContainerEvent]:
        """A container's events from before the inventory started (``Inventory.past_events``): a face that opens
        a container's events wants its last minutes, not only what it saw live.

        Raises:
            EngineUnavailable: the engine cannot be reached.
        """
        return self.inventory.past_events(container_id, since, until)

    # -- live debugging (the TUI's verbs) -----------------------------------------------
    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]:
        """The container's processes as ``docker top`` shows them: (column titles, rows).

        Raises:
            ContainerNotFound: no such container.
            ObserveError: the container is not running.
        """
        doc = self.engine.top(container_id)
        titles = [str(t) for t in doc.get("Titles") or []]
        rows = [[str(v) for v in row] for row in doc.get("Processes") or []]
        return titles, rows

    def action(self, container_id: str, verb: str) -> None:
        """Start, stop, restart, pause, unpause, kill or remove (forced) a container.

        Raises:
            ObserveError: read-only mode, an unknown verb, or the engine refused (the message says which).
            ContainerNotFound: no such container.
        """
        if self.config.read_only:
            raise ObserveError(f"read-only mode: {verb} is disabled")
        if verb not in CONTAINER_VERBS:
            raise ObserveError(f"unknown action {verb!r}; expected one of {', '.join(CONTAINER_VERBS)}")
        self.engine.container_action(container_id, verb)

    def run_command(self, container_id: str, argv: Sequence[str]) -> tuple[int, str]:
        """Run a command in a running container, without a TTY, and wait: (exit code, output text).

        Raises:
            ObserveError: read-only mode, or the container is not running / the command cannot start.
            ContainerNotFound: no such container.
        """
        if self.config.read_only:
            raise ObserveError("read-only mode: running commands is disabled")
        code, out = self.engine.exec_run(container_id, list(argv))
        return code, out.decode("utf-8", errors="replace")

    def shell_command(self, container_id: str) -> list[str]:
        """The interactive shell to open: the first of bash, ash and sh the container has (``sh`` if none is found).

        Raises:
            ObserveError: read-only mode, or the container is not running.
            ContainerNotFound: no such container.
        """
        probe = 'for s in bash ash sh; do command -v "$s" >/dev/null 2>&1 && { echo "$s"; exit 0; }; done; exit 127'
        code, out = self.run_command(container_id, ["sh", "-c", probe])
        shell = out.strip().splitlines()[-1] if code == 0 and out.strip() else "sh"
        return [shell]

    def open_exec(self, container_id: str, argv: Sequence[str]) -> ExecSocket:
        """Start ``argv`` in the container with a TTY; the caller bridges its socket to a terminal.

        Raises:
            ObserveError: read-only mode, or the container is not running / the command cannot start.
            ContainerNotFound: no such container.
        """
        if self.config.read_only:
            raise ObserveError("read-only mode: exec is disabled")
        return self.engine.exec_tty(container_id, list(argv))

    # -- scaling (the autoscaling actuator's verbs) --------------------------------------
    def create_replica_like(self, container_id: str, number: int) -> str:
        """Create and start a replica of a compose service like ``container_id``, numbered ``number``.

        Returns:
            The new container's id.

        Raises:
            ObserveError: read-only mode.
            ScalingError: not a compose replica, or the engine refused (see ``observe.engine.compose``).
            ContainerNotFound: the template is gone.
        """
        from observe.engine.compose import create_replica_like

        if self.config.read_only:
            raise ObserveError("read-only mode: creating replicas is disabled")
        return create_replica_like(self.engine, container_id, number)

    def remove_replica(self, container_id: str, timeout: float | None = None) -> None:
        """Stop a replica gracefully (``timeout`` s, None: its own stop timeout), then remove it.

        Raises:
            ObserveError: read-only mode.
            ScalingError: the engine refused.
        """
        from observe.engine.compose import remove_replica

        if self.config.read_only:
            raise ObserveError("read-only mode: removing replicas is disabled")
        remove_replica(self.engine, container_id, timeout)


def build_core(config: Config) -> Core:
    """Connect to the engine and build the core (not yet started).

    Raises:
        EngineUnavailable: the engine cannot be reached.
    """
    return Core(config, Engine(config))
