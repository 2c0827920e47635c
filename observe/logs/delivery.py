"""Between the readers and the sinks: bounded queues, retries, and checkpoints that wait for every sink.

Each sink has its own bounded queue and thread, so a slow or dead sink shows in its own
counters. Readers put batches into every queue and block while one is full: the containers'
own log files are then the buffer (backpressure). A batch is retried, with capped
exponential backoff and jitter, until its sink accepts it; a container's checkpoint moves
to a batch's position only when every sink has confirmed that batch: for tcp and syslog that
is later than the write (``SinkWorker``), so a stop with unconfirmed records saves nothing
past them and the next start reads them again.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from observe.errors import ObserveError
from observe.logs.checkpoints import CheckpointStore
from observe.logs.sinks.base import ConfirmingSink, Encoding, EncodingSink, Sink, SinkClosed, redact
from observe.model import LogPosition, Record
from observe.telemetry import SinkStatus

log = logging.getLogger(__name__)


Encoded = Mapping[Encoding, tuple[bytes, int]]
"""A batch encoded for each sink's ``Encoding``: (its bytes, how many of its records were cut to fit)."""


@dataclass(frozen=True, slots=True)
class Batch:
    """``count`` records of one container, in order; ``position`` is where its checkpoint may go once delivered.

    The records are in ``records``, or, made by another process, already in ``encoded``.
    """

    seq: int
    container_id: str
    records: Sequence[Record]
    position: LogPosition | None
    count: int
    encoded: Encoded | None = None


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
            return sum(b.count for b in self._pending)


IDLE_POLL = 0.25
"""Seconds between looks at an idle sink's connection (a peer that closed it is noticed within this)."""
CONFIRM_POLL = 0.02
"""Seconds between asking a sink with unconfirmed records what its receiver confirmed."""

_IDLE = Batch(0, "", (), None, 0)


class SinkWorker:
    """One sink's queue and thread.

    A batch counts as written when ``write`` returned and as confirmed when the sink says its
    receiver has it: at once for most sinks, later for a ``ConfirmingSink`` (tcp, syslog),
    which the thread asks after every write and, between writes, every ``CONFIRM_POLL``
    (``IDLE_POLL`` when nothing waits), which is also how a closed connection is noticed.
    Only confirmed batches reach the checkpoint tracker.
    """

    def __init__(self, sink: Sink, index: int, tracker: CheckpointTracker, capacity: int,
                 backoff_base: float = 0.1, backoff_max: float = 10.0, closed: threading.Event | None = None) -> None:
        self.sink = sink
        self.index = index
        self.tracker = tracker
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=capacity)
        self.capacity = capacity
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.written = self.confirmed = self.failed = self.retried = self.disconnects = 0
        self.dropped: dict[str, int] = {}
        self.connected = True
        self.last_error = ""
        self.last_success = 0.0
        self.confirming: ConfirmingSink | None = sink if isinstance(sink, ConfirmingSink) else None
        self.encoding: EncodingSink | None = sink if isinstance(sink, EncodingSink) else None
        self._written: deque[Batch] = deque()  # written, not confirmed yet, oldest first
        self._confirmed_batches = 0
        self._attempt = 0
        self._retry_at = 0.0
        self._abort = threading.Event()
        self.closed = closed or threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"observe-sink-{index}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def status(self) -> SinkStatus:
        sink = self.confirming
        return SinkStatus(
            name=self.sink.name, url=redact(self.sink.url), written=self.written, confirmed=self.confirmed,
            resent=sink.resent if sink else 0, failed=self.failed, retried=self.retried,
            disconnects=self.disconnects, truncated=sink.truncated if sink else 0, dropped=dict(self.dropped),
            unconfirmed=sum(b.count for b in list(self._written)), queue_depth=self.queue.qsize(),
            queue_capacity=self.capacity, connected=self.connected, last_error=self.last_error,
            last_success=self.last_success,
        )

    def _run(self) -> None:
        while True:
            timeout = None
            if self.confirming is not None:
                timeout = CONFIRM_POLL if self._written else IDLE_POLL
            try:
                batch = self.queue.get(timeout=timeout)
            except queue.Empty:
                batch = _IDLE
            if batch is None:
                return
            if batch is not _IDLE:
                if not self._deliver(batch):
                    self._discard_queue()
                    return
                self._written.append(batch)
                if self.confirming is None:
                    self._release(self._confirmed_batches + 1)
                    continue
            if batch is not _IDLE or time.monotonic() >= self._retry_at:
                self._watch()

    def _watch(self) -> None:
        """Ask a confirming sink what its receiver confirmed (and so whether its connection still stands)."""
        assert self.confirming is not None
        try:
            done = self.confirming.confirmed()
        except ObserveError as err:
            self._failed(err)
            self._retry_at = time.monotonic() + self._backoff()
            return
        self._succeeded()
        self._release(done)

    def _release(self, done: int) -> None:
        """Batches up to the ``done``-th written are confirmed: count them and move the checkpoints."""
        while self._confirmed_batches < done and self._written:
            batch = self._written.popleft()
            self._confirmed_batches += 1
            self.confirmed += batch.count
            self.tracker.ack(self.index, batch.seq)

    def _backoff(self) -> float:
        self._attempt += 1
        delay = min(self.backoff_max, self.backoff_base * (2 ** min(self._attempt, 20)))
        return float(delay * (0.5 + random.random() / 2))

    def _failed(self, err: ObserveError) -> None:
        self.failed += 1
        self.last_error = str(err)
        if self.connected:
            self.disconnects += 1
            log.warning("sink cannot take records; retrying", extra={
                "event": "SinkDisconnected", "sink": self.sink.name, "error": str(err)})
        self.connected = False

    def _succeeded(self) -> None:
        if not self.connected:
            log.warning("sink accepts records again", extra={
                "event": "SinkReconnected", "sink": self.sink.name, "retries": self._attempt})
            self.connected = True
            self.last_error = ""
        self._attempt = 0

    def _deliver(self, batch: Batch) -> bool:
        while True:
            try:
                if batch.encoded is None:
                    self.sink.write(batch.records)
                else:
                    assert self.encoding is not None  # only sent when every sink takes encoded batches
                    data, truncated = batch.encoded[self.encoding.encoding]
                    self.encoding.write_encoded(data, batch.count, truncated)
            except SinkClosed as err:
                self.last_error = str(err)
                self.connected = False
                log.error("sink closed; stopping", extra={"event": "SinkClosed", "sink": self.sink.name,
                                                          "error": str(err)})
                self.closed.set()
                self._abort.set()
                self._drop("sink_closed", batch.count)
                return False
            except ObserveError as err:
                self._failed(err)
                if self._abort.wait(self._backoff()):
                    return False
                self.retried += 1
                continue
            self.written += batch.count
            self.last_success = time.time()
            self._succeeded()
            return True

    def _drop(self, reason: str, records: int) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + records

    def _discard_queue(self) -> None:
        """After an abort, empty the queue so that readers blocked on it can finish (unconfirmed)."""
        while True:
            try:
                batch = self.queue.get_nowait()
            except queue.Empty:
                return
            if batch is not None and self.closed.is_set():
                self._drop("sink_closed", batch.count)

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
        """Write what is queued until ``deadline`` (monotonic); True when all of it went out."""
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

    def close(self, deadline: float) -> bool:
        """Close the sink, letting its receiver confirm until ``deadline``; True when it confirmed everything."""
        if self.confirming is None:
            self.sink.close()
        else:
            self._release(self.confirming.finish(deadline))
        return not self._written


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
            batch = Batch(self._seq, container_id, records, position, len(records))
            self.tracker.add(batch)
            return all(worker.put(batch, self.give_up) for worker in self.workers)

    def encodings(self) -> tuple[Encoding, ...] | None:
        """Every sink's ``Encoding`` (each once), or None when some sink takes only records."""
        found: dict[Encoding, None] = {}
        for worker in self.workers:
            if worker.encoding is None:
                return None
            found[worker.encoding.encoding] = None
        return tuple(found)

    def send_encoded(self, container_id: str, encoded: Encoded, count: int, position: LogPosition | None) -> bool:
        """``send`` for ``count`` records encoded elsewhere for each of ``encodings()``."""
        with self._lock:
            self._seq += 1
            batch = Batch(self._seq, container_id, (), position, count, encoded)
            self.tracker.add(batch)
            return all(worker.put(batch, self.give_up) for worker in self.workers)

    def statuses(self) -> list[SinkStatus]:
        return [w.status() for w in self.workers]

    @property
    def pending(self) -> int:
        """Records handed to delivery that not every sink confirmed: the next start reads them again."""
        return self.tracker.undelivered

    def finish(self, deadline: float) -> bool:
        """Write what is queued until ``deadline``, close the sinks (their receivers may confirm until then).

        Returns:
            True when every sink confirmed every record.
        """
        ok = all([w.finish(deadline) for w in self.workers])
        close_by = max(deadline, time.monotonic() + 1.0)  # a clean close needs a moment even when late
        for w in self.workers:
            try:
                ok = w.close(close_by) and ok
            except ObserveError as err:
                ok = False
                log.warning("sink did not close cleanly", extra={"event": "SinkCloseFailed", "error": str(err)})
            log_sink_stopped(w.status())
        return ok and not self.pending


def log_sink_stopped(s: SinkStatus) -> None:
    """The ``SinkStopped`` event: a sink's totals at the stop (of one process, or added over the workers)."""
    log.info("sink stopped", extra={
        "event": "SinkStopped", "sink": s.name, "written": s.written, "confirmed": s.confirmed,
        "unconfirmed": s.unconfirmed, "resent": s.resent, "failed": s.failed, "retried": s.retried,
        "disconnects": s.disconnects, "truncated": s.truncated, "dropped": s.dropped,
        "queue_depth": s.queue_depth})


OnLost = Callable[[str, str], None]
