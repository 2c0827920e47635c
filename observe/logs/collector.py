"""The log collector: one follower per selected container, feeding the delivery queues.

Followers start when a container runs (from the inventory's events) and drain and stop when
it stops; a restarted container is followed again from exactly where its last follower
stopped, so there is no gap and no duplicate. The json-file reader is used when the engine
is local and the container logs to json-file; otherwise the engine's logs API.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from observe.engine import Engine
from observe.errors import ObserveError
from observe.inventory import REMOVED, Inventory, InventoryChange
from observe.logs.apilogs import ApiLogReader
from observe.logs.checkpoints import CheckpointStore, shard_of
from observe.logs.delivery import Delivery
from observe.logs.jsonfile import JsonFileReader
from observe.logs.normalise import LogPipeline, NormaliseOptions
from observe.model import ContainerInfo, LogLine, LogPosition, Record
from observe.telemetry import LogCounters

log = logging.getLogger(__name__)

MAX_BATCH = 1000
CHECKPOINT_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class CollectorOptions:
    """How the collector reads.

    Attributes:
        reader: ``auto`` (json-file when local and possible, else the API), ``api`` or ``json-file``.
        read_from_head: containers already running at the first start (no checkpoint yet) are
            read from their first line; otherwise from now. Containers that start later are
            always read from their first line.
        poll_interval: seconds between looks at an idle json-file.
        stall_timeout: seconds without data before an API stream is reopened.
        shard: ``(k, n)``: follow only the containers of worker k of n (``checkpoints.shard_of``).
    """

    normalise: NormaliseOptions = field(default_factory=NormaliseOptions)
    reader: str = "auto"
    read_from_head: bool = False
    poll_interval: float = 0.05
    stall_timeout: float = 10.0
    shard: tuple[int, int] = (0, 1)


class Follower:
    """Reads one container's log into its pipeline and hands the records to delivery."""

    def __init__(self, collector: Collector, container: ContainerInfo, position: LogPosition | None,
                 at_end: bool) -> None:
        self.collector = collector
        self.container = container
        self.pipeline = LogPipeline(container, collector.options.normalise)
        self.position = position
        self.at_end = at_end
        self.draining = threading.Event()  # the container stopped: read to the end, then finish
        self.stopping = threading.Event()  # shut down now (after flushing what is held)
        self.done = threading.Event()
        self._renamed: ContainerInfo | None = None
        self._reported = dict.fromkeys(self.pipeline.counters, 0)
        self._api: ApiLogReader | None = None
        self.kind = self._choose_reader()
        self.thread = threading.Thread(target=self._run, name=f"observe-follow-{container.short_id}", daemon=True)

    def _choose_reader(self) -> str:
        opt = self.collector.options.reader
        c = self.container
        usable = self.collector.engine.is_local and c.log_driver == "json-file" and os.access(c.log_path, os.R_OK)
        if opt == "json-file" or (opt == "auto" and usable):
            return "json-file" if usable else "api"
        return "api"

    def start(self) -> None:
        log.info("following container logs", extra={"event": "LogFollowStarted", "container": self.container.name,
                                                     "reader": self.kind})
        self.thread.start()

    def rename(self, container: ContainerInfo) -> None:
        self._renamed = container

    def drain(self) -> None:
        self.draining.set()

    def stop(self) -> None:
        self.stopping.set()
        if self._api is not None:
            self._api.close()

    # -- the loop ------------------------------------------------------------------------
    def _emit(self, records: list[Record]) -> None:
        if not records:
            return
        counters = self.collector.counters
        cid = self.container.id
        for r in records:
            counters.add_record(cid, r.level, r.stream, r.nbytes, r.lines)
        totals = dict(self.pipeline.counters)
        if self._api is not None:
            totals["engine_duplicate"] = self._api.duplicates  # lines the engine sent twice, dropped
        for kind, total in totals.items():
            if total != self._reported.get(kind, 0):
                counters.add_flag(cid, kind, total - self._reported.get(kind, 0))
                self._reported[kind] = total
        for start in range(0, len(records), MAX_BATCH):
            chunk = records[start:start + MAX_BATCH]
            position = chunk[-1].position
            self.collector.delivery.send(cid, chunk, position)
            if position is not None:
                self.position = position

    def _feed(self, lines: list[LogLine]) -> None:
        if self._renamed is not None:
            self.pipeline.update_container(self._renamed)
            self.container, self._renamed = self._renamed, None
        now = time.monotonic()
        out: list[Record] = []
        feed = self.pipeline.feed
        for line in lines:
            out.extend(feed(line, now))
        self._emit(out)

    def _lost(self, why: str) -> None:
        self.collector.counters.add_flag(self.container.id, "lost")
        log.warning(why, extra={"event": "LogLinesLost", "container": self.container.name})

    def _run(self) -> None:
        try:
            if self.kind == "json-file":
                self._run_jsonfile()
            else:
                self._run_api()
            self._emit(self.pipeline.flush_all())
        except ObserveError as err:
            log.warning("stopped following a container", extra={
                "event": "LogFollowFailed", "container": self.container.name, "error": str(err)})
            self._emit(self.pipeline.flush_all())
        except Exception:  # one container's trouble must not take the collector down
            log.exception("log follower failed", extra={"event": "LogFollowFailed",
                                                          "container": self.container.name})
        finally:
            self.done.set()
            log.info("stopped following container logs", extra={"event": "LogFollowStopped",
                                                                 "container": self.container.name})

    def _run_jsonfile(self) -> None:
        position = self.position
        if position is None and self.at_end:
            position = JsonFileReader.end_position(self.container.log_path)
        reader = JsonFileReader(self.container.log_path, position, on_lost=self._lost,
                                max_line_bytes=max(4 << 20, self.collector.options.normalise.max_line_bytes * 2))
        # Poll quickly while lines come, more slowly (up to 250 ms) while the container is quiet.
        fastest = self.collector.options.poll_interval
        slowest = max(fastest, min(0.25, self.collector.options.normalise.flush_timeout / 2))
        poll = fastest
        idle_after_drain = 0
        try:
            while not self.stopping.is_set():
                lines = reader.read()
                if lines:
                    idle_after_drain = 0
                    poll = fastest
                    self._feed(lines)
                    continue
                if self.draining.is_set():
                    # The engine may still be copying the last lines when it reports the stop.
                    idle_after_drain += 1
                    if idle_after_drain >= 3:
                        return
                self._emit(self.pipeline.flush_due(time.monotonic()))
                self.stopping.wait(poll)
                poll = min(slowest, poll * 2)
        finally:
            reader.close()

    def _run_api(self) -> None:
        c = self.container
        reader = ApiLogReader(self.collector.engine, c.id, tty=c.tty, position=self.position, follow=True,
                              tail=0 if (self.at_end and self.position is None) else None,
                              stall_timeout=self.collector.options.stall_timeout)
        self._api = reader
        if self.stopping.is_set():
            reader.close()
        tick = min(0.25, self.collector.options.normalise.flush_timeout)
        pump_api(reader, self._feed, lambda: self._emit(self.pipeline.flush_due(time.monotonic())),
                 self.stopping, tick, c.name)


def pump_api(reader: ApiLogReader, feed: Callable[[list[LogLine]], None], tick: Callable[[], None],
             stopping: threading.Event, interval: float, name: str,
             on_end: Callable[[BaseException | None], None] | None = None) -> None:
    """Run a blocking API reader on its own thread; ``feed`` batches here and ``tick`` when idle.

    The tick is what releases a held multi-line record of a container that went quiet. Every
    error of the reader ends the stream with a ``LogStreamFailed`` event (a reader thread never
    dies silently); ``on_end`` is told how the reading ended (None: it ended cleanly).
    """
    inbox: queue.Queue[list[LogLine] | None] = queue.Queue(maxsize=64)
    ended: list[BaseException | None] = [None]

    def pump() -> None:
        try:
            for batch in reader.batches():
                while not stopping.is_set():
                    try:
                        inbox.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except ObserveError as err:
            ended[0] = err
            log.warning("log stream failed", extra={"event": "LogStreamFailed", "container": name, "error": str(err)})
        except Exception as err:  # a fault of ours or of a library: report it as the stream's end, never die silently
            ended[0] = err
            log.exception("log stream failed", extra={"event": "LogStreamFailed", "container": name,
                                                      "error": repr(err)})
        finally:
            inbox.put(None)

    pumper = threading.Thread(target=pump, name=f"observe-logapi-{name}", daemon=True)
    pumper.start()
    while True:
        try:
            batch = inbox.get(timeout=interval)
        except queue.Empty:
            tick()
            continue
        if batch is None:
            break
        feed(batch)
    pumper.join(timeout=5)
    if on_end is not None:
        on_end(ended[0])


class Collector:
    """Follows every selected container's logs into the delivery queues.

    Args:
        engine: the connected engine.
        inventory: the live inventory (started by the caller).
        delivery: where records go.
        checkpoints: read positions (None: start from now and keep nothing).
        counters: the core's log counters.
        options: how to read.
    """

    def __init__(self, engine: Engine, inventory: Inventory, delivery: Delivery, checkpoints: CheckpointStore | None,
                 counters: LogCounters, options: CollectorOptions) -> None:
        self.engine = engine
        self.inventory = inventory
        self.delivery = delivery
        self.checkpoints = checkpoints
        self.counters = counters
        self.options = options
        self._followers: dict[str, Follower] = {}
        self._resume: dict[str, LogPosition] = {}
        self._changes: queue.Queue[InventoryChange | None] = queue.Queue()
        self._stop = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._manage, name="observe-collector", daemon=True)
        self._startup: set[str] = set()

    def start(self) -> None:
        """Follow what runs now (and what stopped with unread lines), then every change."""
        self._unsubscribe = self.inventory.subscribe(self._changes.put)
        known = {cid for cid in self.checkpoints.known() if self._mine(cid)} if self.checkpoints else set()
        for c in self.inventory.containers(include_stopped=True):
            if not self._mine(c.id):
                continue
            if c.running or c.id in known:
                self._startup.add(c.id)
                self._ensure(c, startup=True)
        if self.checkpoints is not None:
            present = {c.id for c in self.inventory.containers(include_stopped=True)}
            for cid in known - present:
                if self.inventory.get(cid) is None:
                    log.warning("a container with unread lines was removed while observe was stopped",
                                extra={"event": "LogLinesLost", "container": cid[:12]})
                    self.counters.add_flag(cid, "lost")
                    self.checkpoints.forget(cid)
        self._thread.start()

    def _mine(self, container_id: str) -> bool:
        k, n = self.options.shard
        return n <= 1 or shard_of(container_id, n) == k

    def _ensure(self, c: ContainerInfo, startup: bool = False) -> None:
        current = self._followers.get(c.id)
        if current is not None and not current.done.is_set():
            if current.draining.is_set() and c.running:
                return  # restarted while the last run drains: picked up when it is done
            return
        if current is not None:
            if current.position is not None:
                self._resume[c.id] = current.position
            del self._followers[c.id]
        position = self._resume.get(c.id) or (self.checkpoints.get(c.id) if self.checkpoints else None)
        at_end = startup and position is None and not self.options.read_from_head
        follower = Follower(self, c, position, at_end)
        self._followers[c.id] = follower
        if not c.running:
            follower.drain()
        follower.start()

    def _manage(self) -> None:
        last_save = time.monotonic()
        while not self._stop.is_set():
            try:
                change = self._changes.get(timeout=0.1)
            except queue.Empty:
                change = None
            if change is not None:
                self._apply(change)
            self._reap()
            # Delivered positions reach the disk every second: after a SIGKILL at most that is read again.
            if self.checkpoints is not None and time.monotonic() - last_save >= CHECKPOINT_INTERVAL:
                self.checkpoints.save()
                last_save = time.monotonic()

    def _apply(self, change: InventoryChange) -> None:
        c = change.container
        if not self._mine(c.id):
            return
        follower = self._followers.get(c.id)
        if change.kind == REMOVED:
            if follower is not None:
                follower.drain()
            return
        if follower is not None and follower.container.name != c.name:
            follower.rename(c)
        if c.running:
            if follower is None or follower.done.is_set():
                self._ensure(c)
        elif follower is not None:
            follower.drain()

    def _reap(self) -> None:
        for cid, follower in list(self._followers.items()):
            if not follower.done.is_set():
                continue
            if follower.position is not None:
                self._resume[cid] = follower.position
            del self._followers[cid]
            info = self.inventory.get(cid)
            if info is None:
                self._resume.pop(cid, None)
                if self.checkpoints is not None and not self.delivery.tracker.undelivered:
                    self.checkpoints.forget(cid)
            elif info.running:
                self._ensure(info)  # restarted while the last run drained

    def following(self) -> list[str]:
        return [f.container.name for f in self._followers.values() if not f.done.is_set()]

    def stop(self, deadline: float) -> None:
        """Stop reading; flush what the pipelines hold into delivery (until ``deadline``)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop.set()
        self._thread.join(timeout=5)
        for follower in self._followers.values():
            follower.stop()
        for follower in self._followers.values():
            follower.thread.join(timeout=max(0.1, deadline - time.monotonic()))
        if any(not f.done.is_set() for f in self._followers.values()):
            self.delivery.give_up.set()
