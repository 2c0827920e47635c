"""Between the readers and the sinks: bounded queues, retries, and checkpoints that wait for every sink.

Each sink has its own bounded queue and thread, so a slow or dead sink shows in its own
counters. Readers put batches into every queue and block while one is full: the containers'
own log files are then the buffer (backpressure). A batch is retried, with capped
exponential backoff and jitter, until its sink accepts it; a container's checkpoint moves
to a batch's position only when every sink has accepted that batch.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from observe.errors import ObserveError
from observe.logs.checkpoints import CheckpointStore
from observe.logs.sinks.base import Sink, SinkClosed, redact
from observe.model import LogPosition, Record
from observe.telemetry import SinkStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    """Records of one container, in order; ``position`` is where its checkpoint may go once delivered."""

    seq: int
    container_id: str
    records: Sequence[Record]
    position: LogPosition | None


class CheckpointTracker:
    """Advances a container's checkpoint once every sink acknowledged the batch holding it."""

    def __init__(self, store: CheckpointStore | None, sinks: int) -> None:
        self.store = store
        self._acked = [0] * sinks
        self._pending: deque[Batch] = deque()
        self._lock = threading.Lock()

    def add(self, batch: Batch) -> None:
        with self._lock:
            self._pending.append(batch)

    def ack(self, sink_index: int, seq: int) -> None:
        with self._lock:
            self._acked[sink_index] = max(self._acked[sink_index], seq)
            done = min(self._acked)
            while self._pending and self._pending[0].seq <= done:
                batch = self._pending.popleft()
                if self.store is not None and batch.position is not None:
                    self.store.advance(batch.container_id, batch.position)

    @property
    def undelivered(self) -> int:
        with self._lock:
            return sum(len(b.records) for b in self._pending)


class SinkWorker:
    """One sink's queue and thread."""

    def __init__(self, sink: Sink, index: int, tracker: CheckpointTracker, capacity: int,
                 backoff_base: float = 0.1, backoff_max: float = 10.0, closed: threading.Event | None = None) -> None:
        self.sink = sink
        self.index = index
        self.tracker = tracker
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=capacity)
        self.capacity = capacity
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sent = self.failed = self.retried = 0
        self.connected = True
        self.last_error = ""
        self.last_success = 0.0
        self._abort = threading.Event()
        self.closed = closed or threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"observe-sink-{index}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def status(self) -> SinkStatus:
        duplicates = int(getattr(self.sink, "duplicates", 0))
        return SinkStatus(
            name=self.sink.name, url=redact(self.sink.url), sent=self.sent, failed=self.failed, retried=self.retried,
            duplicates=duplicates, queue_depth=self.queue.qsize(), queue_capacity=self.capacity,
            connected=self.connected, last_error=self.last_error, last_success=self.last_success,
        )

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if not self._deliver(batch):
                self._discard_queue()
                return
            self.tracker.ack(self.index, batch.seq)

    def _deliver(self, batch: Batch) -> bool:
        attempt = 0
        while True:
            try:
                self.sink.write(batch.records)
            except SinkClosed as err:
                self.last_error = str(err)
                self.connected = False
                log.error("sink closed; stopping", extra={"event": "SinkClosed", "sink": self.sink.name,
                                                          "error": str(err)})
                self.closed.set()
                self._abort.set()
                return False
            except ObserveError as err:
                self.failed += 1
                self.last_error = str(err)
                if self.connected:
                    log.warning("sink cannot take records; retrying", extra={
                        "event": "SinkDisconnected", "sink": self.sink.name, "error": str(err)})
                self.connected = False
                attempt += 1
                delay = min(self.backoff_max, self.backoff_base * (2 ** min(attempt, 20)))
                delay *= 0.5 + random.random() / 2
                if self._abort.wait(delay):
                    return False
                self.retried += 1
                continue
            self.sent += len(batch.records)
            self.last_success = time.time()
            if not self.connected:
                log.warning("sink accepts records again", extra={
                    "event": "SinkReconnected", "sink": self.sink.name, "retries": attempt})
                self.connected = True
                self.last_error = ""
            return True

    def _discard_queue(self) -> None:
        """After an abort, empty the queue so that readers blocked on it can finish (unacknowledged)."""
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return

    def put(self, batch: Batch, give_up: threading.Event) -> bool:
        """Queue a batch, blocking while the queue is full (backpressure); False when told to give up."""
        while True:
            try:
                self.queue.put(batch, timeout=0.2)
                return True
            except queue.Full:
                if give_up.is_set() or self._abort.is_set():
                    return False

    def finish(self, deadline: float) -> bool:
        """Deliver what is queued until ``deadline`` (monotonic); True when all of it went out."""
        while True:
            try:
                self.queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                self._abort.set()
                break
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(timeout=5)
            return False
        return self.queue.empty() and not self._abort.is_set()


class Delivery:
    """Fan-out of reader batches to every sink, with checkpoints that wait for all of them.

    Args:
        sinks: where records go.
        store: the checkpoint store (None: no checkpoints, as for ``observe logs``).
        capacity: batches each sink may hold queued before readers wait.
    """

    def __init__(self, sinks: Sequence[Sink], store: CheckpointStore | None, capacity: int = 64,
                 backoff_max: float = 10.0) -> None:
        self.tracker = CheckpointTracker(store, len(sinks))
        self.closed = threading.Event()  # a sink can never take records again
        self.workers = [SinkWorker(s, i, self.tracker, capacity, backoff_max=backoff_max, closed=self.closed)
                        for i, s in enumerate(sinks)]
        self._seq = 0
        self._lock = threading.Lock()
        self.give_up = threading.Event()

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def send(self, container_id: str, records: Sequence[Record], position: LogPosition | None) -> bool:
        """Queue records for every sink (blocking while one is full). False when shutting down hard."""
        with self._lock:
            self._seq += 1
            batch = Batch(self._seq, container_id, records, position)
            self.tracker.add(batch)
            return all(worker.put(batch, self.give_up) for worker in self.workers)

    def statuses(self) -> list[SinkStatus]:
        return [w.status() for w in self.workers]

    def finish(self, deadline: float) -> bool:
        """Drain every sink until ``deadline``; close them. True when everything was delivered."""
        ok = all([w.finish(deadline) for w in self.workers])
        for w in self.workers:
            try:
                w.sink.close()
            except ObserveError as err:
                log.warning("sink did not close cleanly", extra={"event": "SinkCloseFailed", "error": str(err)})
            s = w.status()
            log.info("sink stopped", extra={"event": "SinkStopped", "sink": s.name, "sent": s.sent, "failed": s.failed,
                                            "retried": s.retried, "duplicates": s.duplicates})
        return ok


OnLost = Callable[[str, str], None]
