"""The log collector: one follow per selected container (``observe.logs.follow``), feeding the delivery queues.

Follows start when a container runs, or ran unseen, and read it to its end when it stops; a
restarted container is followed again from exactly where its last follow stopped, so there
is no gap and no duplicate. The json-file reader is used when the engine is local and the
container logs to json-file; otherwise the engine's logs API (``--reader`` chooses).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from observe.engine import Engine
from observe.inventory import Inventory
from observe.logs.backlog import Chunk
from observe.logs.checkpoints import CheckpointStore
from observe.logs.delivery import Delivery
from observe.logs.follow import Follow, FollowOptions
from observe.logs.normalise import NormaliseOptions
from observe.logs.owners import Owners, shard_of
from observe.logs.watch import Watch
from observe.model import ContainerInfo, LogPosition, Record
from observe.telemetry import LogCounters

log = logging.getLogger(__name__)

MAX_BATCH = 1000
CHECKPOINT_INTERVAL = 1.0
SINCE_MARGIN = 30.0
"""Seconds before the last checkpoint from which a container counts as run while observe was down.

Generous on purpose: such a container without a checkpoint of its own has had nothing delivered,
so reading it from its first line repeats nothing; the margin covers an engine clock a little off.
"""


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
        shard: ``(k, n)``: follow only the containers of worker k of n (``observe.logs.owners``).
        split_backlog: a json-file backlog of this many bytes or more is read by two processes
            (``observe.logs.backlog``; 0: never).
    """

    normalise: NormaliseOptions = field(default_factory=NormaliseOptions)
    reader: str = "auto"
    read_from_head: bool = False
    poll_interval: float = 0.05
    stall_timeout: float = 10.0
    shard: tuple[int, int] = (0, 1)
    split_backlog: int = 0


class Collector:
    """Follows every selected container's logs into the delivery queues.

    A container that ran while observe watched is read to its end, even one created, started
    and exited between two looks of the inventory; at a restart, those that exited while
    observe was down (since the last checkpoint) and still exist are read too, and finished
    ones already read are not read again (their checkpoints say where they ended).

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
        self._reported: dict[int, dict[str, int]] = {}
        k, n = options.shard
        self.owners = Owners(str(checkpoints.dir), k, n, lambda: [c.id for c in inventory.containers(False)]) if (
            n > 1 and checkpoints is not None) else None
        self._last_save = time.monotonic()
        self._since: datetime | None = None
        self.watch = Watch(inventory, self._begin, on_lost=self._lost, on_reaped=self._reaped, on_idle=self._idle,
                           accept=self._mine, name="observe-collector")

    def start(self) -> None:
        """Follow what runs now, what stopped with unread lines, then every change."""
        known = {cid for cid in self.checkpoints.known() if self._mine(cid)} if self.checkpoints else set()
        saved_ns = self.checkpoints.saved_ns if self.checkpoints else 0
        # Containers that started or stopped since the last checkpoint ran while observe was down.
        self._since = datetime.fromtimestamp(saved_ns / 1e9 - SINCE_MARGIN, UTC) if saved_ns else None

        def read_now(c: ContainerInfo) -> bool:
            return c.running or c.id in known or self._ran_since_last_checkpoint(c)

        self.watch.start(read_now)
        if self.checkpoints is not None:
            present = {c.id for c in self.inventory.containers(include_stopped=True)}
            if self.owners is not None:
                self.owners.prune(present)
            for cid in known - present:
                if self.inventory.get(cid) is None:
                    log.warning("a container with unread lines was removed while observe was stopped",
                                extra={"event": "LogLinesLost", "container": cid[:12]})
                    self.counters.add_flag(cid, "lost")
                    self.checkpoints.forget(cid)

    def _mine(self, container_id: str) -> bool:
        k, n = self.options.shard
        if n <= 1:
            return True
        return self.owners.mine(container_id) if self.owners is not None else shard_of(container_id, n) == k

    def _ran_since_last_checkpoint(self, c: ContainerInfo) -> bool:
        since = self._since
        if since is None:
            return False
        return any(t is not None and t >= since for t in (c.started_at, c.finished_at))

    def _begin(self, c: ContainerInfo, resume: LogPosition | None, startup: bool) -> Follow:
        position = resume or (self.checkpoints.get(c.id) if self.checkpoints else None)
        at_end = (startup and position is None and not self.options.read_from_head
                  and not self._ran_since_last_checkpoint(c))
        opts = self.options
        encodings = self.delivery.encodings() if opts.split_backlog else None
        follow = Follow(self.engine, c, opts.normalise, self._emit,
                        FollowOptions(reader=opts.reader, position=position, at_end=at_end,
                                      poll_interval=opts.poll_interval, stall_timeout=opts.stall_timeout,
                                      encodings=encodings or (), split_bytes=opts.split_backlog),
                        on_lost=self._lost, on_chunk=self._chunk)
        return follow.start()

    def _emit(self, follow: Follow, records: list[Record]) -> None:
        """Counters, then delivery in batches; runs on the follow's thread."""
        cid = follow.container.id
        self.counters.add_records(cid, records)
        self._flags(follow)
        for start in range(0, len(records), MAX_BATCH):
            chunk = records[start:start + MAX_BATCH]
            self.delivery.send(cid, chunk, chunk[-1].position)

    def _chunk(self, follow: Follow, chunk: Chunk) -> None:
        """``_emit`` for what a second process read of a backlog, already encoded."""
        cid = follow.container.id
        self.counters.add_sums(cid, chunk.lines, chunk.nbytes)
        self._flags(follow)
        self.delivery.send_encoded(cid, chunk.encoded, chunk.records, chunk.position)

    def _flags(self, follow: Follow) -> None:
        """The pipeline's counters, added to the core's since they were last."""
        counters = self.counters
        cid = follow.container.id
        reported = self._reported.setdefault(id(follow), dict.fromkeys(follow.pipeline.counters, 0))
        totals = dict(follow.pipeline.counters)
        totals["engine_duplicate"] = follow.duplicates  # lines the engine sent twice, dropped
        for kind, total in totals.items():
            if total != reported.get(kind, 0):
                counters.add_flag(cid, kind, total - reported.get(kind, 0))
                reported[kind] = total

    def _lost(self, c: ContainerInfo, why: str) -> None:
        self.counters.add_flag(c.id, "lost")
        log.warning(why, extra={"event": "LogLinesLost", "container": c.name})

    def _reaped(self, cid: str, follow: Follow, info: ContainerInfo | None) -> None:
        self._reported.pop(id(follow), None)
        if info is None and self.checkpoints is not None and not self.delivery.tracker.undelivered:
            self.checkpoints.forget(cid)
            if self.owners is not None:
                self.owners.release(cid)

    def _idle(self) -> None:
        # Delivered positions reach the disk every second: after a SIGKILL at most that is read again.
        if self.checkpoints is not None and time.monotonic() - self._last_save >= CHECKPOINT_INTERVAL:
            self.checkpoints.save()
            self._last_save = time.monotonic()

    def following(self) -> list[str]:
        return self.watch.following()

    def stop(self, deadline: float) -> None:
        """Stop reading; flush what the pipelines hold into delivery (until ``deadline``)."""
        if not self.watch.stop(deadline):
            self.delivery.give_up.set()
