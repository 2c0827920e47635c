"""Following logs, one copy for every face: reader -> pipeline -> callback.

``Follow`` reads one container's log (the json-file fast path or the engine API) through its
``LogPipeline`` and hands the records to a callback, on its own thread. The collector, the TUI
(``Core.follow_logs``) and ``observe logs`` all read through it; ``observe.logs.watch`` keeps
one per selected container.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from observe.engine import Engine
from observe.engine.inspect import log_rotates
from observe.errors import ContainerNotFound, ObserveError
from observe.logs import backlog
from observe.logs.apilogs import ApiLogReader
from observe.logs.jsonfile import JsonFileReader
from observe.logs.normalise import NormaliseOptions
from observe.logs.pipeline import LogPipeline
from observe.logs.sinks.base import Encoding
from observe.model import ContainerInfo, LogLine, LogPosition, Record, StreamState

log = logging.getLogger(__name__)

READERS = ("auto", "api", "json-file")


@dataclass(frozen=True, slots=True)
class FollowOptions:
    """Where and how one container's log is read.

    Attributes:
        reader: ``auto`` (json-file when the engine is local and the container logs to json-file
            readable here, else the API), ``api`` or ``json-file`` (the API when it cannot be used).
        follow: keep reading while the container runs; False reads what is there and ends.
        position: resume after this position (None: from the first line, or as below).
        at_end: without a position, read only what is written from now on.
        tail: only the last N lines at the first open (without a position; json-file: found by reading
            the file backwards from its end).
        since_ns: API reader: only lines at or after this time.
        poll_interval: json-file: seconds between looks at an idle file (doubling up to 250 ms).
        stall_timeout: API: seconds without data before the stream is reopened from the last line.
        persistent: a viewer's stream, kept through engine outages and container restarts; it
            ends on ``stop()`` or when the container is removed. Both readers report where it
            stands (``on_state``); the json-file reader asks the engine once a second while the
            file is quiet whether the container still runs (``waiting``) or is gone (``ended``).
        until_stopped: json-file with follow and no ``Watch`` to drain it: end, like
            ``docker logs -f``, once the container no longer runs (looked at every second).
        encodings: json-file with follow: the sinks' encodings, for a second process to read a
            backlog of ``split_bytes`` or more into (``observe.logs.backlog``; empty: never).
        split_bytes: see ``encodings``.
    """

    reader: str = "api"
    follow: bool = True
    position: LogPosition | None = None
    at_end: bool = False
    tail: int | None = None
    since_ns: int = 0
    poll_interval: float = 0.05
    stall_timeout: float = 10.0
    persistent: bool = False
    until_stopped: bool = False
    encodings: tuple[Encoding, ...] = ()
    split_bytes: int = 0


MAX_JSONFILE_LINE = 4 << 20
UNSEEN: Hashable = object()
"""No run read yet."""

OnRecords = Callable[["Follow", list[Record]], None]
OnLost = Callable[[ContainerInfo, str], None]
OnChunk = Callable[["Follow", backlog.Chunk], None]


class Follow:
    """Reads one container's log into its pipeline and hands the records to ``on_records`` (on its thread).

    Args:
        engine: the connected engine.
        container: the container to read.
        normalise: how records are built.
        on_records: called with each batch of records, in order, from the follow's thread.
        options: where and how to read.
        on_lost: called when lines could not be read (the container was removed before its log
            could be opened, or the json-file rotated away under the reader).
        on_state: told where an API stream stands (following, retrying, waiting, ended, error),
            from the follow's threads.
        on_chunk: takes, in order with the records, what a second process read of a backlog
            (with ``options.encodings``).
    """

    def __init__(self, engine: Engine, container: ContainerInfo, normalise: NormaliseOptions, on_records: OnRecords,
                 options: FollowOptions, on_lost: OnLost | None = None,
                 on_state: Callable[[StreamState], None] | None = None, on_chunk: OnChunk | None = None) -> None:
        self.on_state = on_state
        self.on_chunk = on_chunk
        self.engine = engine
        self.container = container
        self.options = options
        self.normalise = normalise
        self.pipeline = LogPipeline(container, normalise)
        self.position = options.position
        self.on_records = on_records
        self.on_lost = on_lost
        self.draining = threading.Event()  # the container stopped: read to the end, then finish
        self.stopping = threading.Event()  # shut down now (after flushing what is held)
        self.done = threading.Event()
        self.on_done: Callable[[], None] | None = None  # told (from the follow's thread) right after ``done``
        self.read_to_end = False  # the log was read to its end after the container stopped
        self.failed = False  # could not be read (an error, or removed first): not worth trying again
        self.end_run: Hashable = UNSEEN  # the run whose stop the drain was asked for
        self._renamed: ContainerInfo | None = None
        self._api: ApiLogReader | None = None
        self.kind = choose_reader(engine, container, options.reader)
        self.thread = threading.Thread(target=self._run, name=f"observe-follow-{container.short_id}", daemon=True)

    @property
    def duplicates(self) -> int:
        """Lines the engine's API stream sent twice (dropped)."""
        return self._api.duplicates if self._api is not None else 0

    def start(self) -> Follow:
        log.info("following container logs", extra={"event": "LogFollowStarted", "container": self.container.name,
                                                     "reader": self.kind})
        self.thread.start()
        return self

    def rename(self, container: ContainerInfo) -> None:
        """Use the container's new details for the records still to come (from any thread)."""
        self._renamed = container

    def drain(self, stopped: ContainerInfo | None = None) -> None:
        """The container stopped (as ``stopped`` shows it): read to the end of its log, then finish.

        Callable from any thread. The run of ``stopped`` is what ``read_to_end`` then covers.
        """
        if stopped is not None and self.end_run is UNSEEN:
            self.end_run = run_key(stopped)
        self.draining.set()

    def stop(self) -> None:
        """Finish now, after flushing what the pipeline holds (from any thread)."""
        self.stopping.set()
        if self._api is not None:
            self._api.close()

    # -- the loop ------------------------------------------------------------------------
    def _emit(self, records: list[Record]) -> None:
        if not records:
            return
        self.on_records(self, records)
        for r in reversed(records):
            if r.position is not None:
                self.position = r.position
                break

    def _feed(self, lines: list[LogLine]) -> None:
        if self._renamed is not None:
            self.pipeline.update_container(self._renamed)
            self.container, self._renamed = self._renamed, None
        since = self.options.since_ns
        if since and self.kind == "json-file":  # the API reader asks the engine for ``since`` itself
            lines = [line for line in lines if line.time_ns >= since]
        now = time.monotonic()
        out: list[Record] = []
        feed = self.pipeline.feed
        for line in lines:
            out.extend(feed(line, now))
        self._emit(out)

    def _chunk(self, chunk: backlog.Chunk) -> None:
        counters = self.pipeline.counters
        for kind, n in chunk.flags.items():
            counters[kind] = counters.get(kind, 0) + n
        assert self.on_chunk is not None
        self.on_chunk(self, chunk)
        if chunk.position is not None:
            self.position = chunk.position

    def _split(self, reader: JsonFileReader, position: LogPosition | None, max_line: int) -> JsonFileReader:
        """Read a large backlog with a second process when it pays; the reader to go on with."""
        opts = self.options
        if self.on_chunk is None or not opts.encodings or not opts.follow or opts.since_ns or opts.tail is not None:
            return reader
        plan = backlog.plan(self.container.log_path, position, opts.split_bytes, opts.encodings)
        if plan is None:
            return reader
        log.info("reading a backlog with a second process", extra={
            "event": "BacklogSplit", "container": self.container.name, "bytes": plan.end - (
                position.offset if position else 0)})
        back = backlog.read_split(plan, reader, self.pipeline, self._feed, self._chunk, self.stopping, max_line,
                                  self._lost)
        if back is None:
            return reader
        resume, stop, held = back
        reader.close()
        counters = self.pipeline.counters
        self.pipeline = LogPipeline(self.container, self.normalise)
        self.pipeline.counters.update(counters)
        self.pipeline.start_after(resume)
        reader = JsonFileReader(self.container.log_path, resume, on_lost=self._lost, max_line_bytes=max_line)
        rest = backlog.reread(reader, self.pipeline, stop, held, self.container.name)
        self._feed(rest)
        return reader

    def _tick(self) -> None:
        """Release a held multi-line record of a container that went quiet."""
        self._emit(self.pipeline.flush_due(time.monotonic()))

    def _state(self, state: StreamState) -> None:
        if self.on_state is not None:
            self.on_state(state)

    def _lost(self, why: str) -> None:
        self.failed = True
        if self.on_lost is not None:
            self.on_lost(self.container, why)

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
            self.read_to_end, self.failed = False, True
            self._emit(self.pipeline.flush_all())
        except Exception as err:  # one container's trouble must not take the collector down
            self.read_to_end, self.failed = False, True
            log.exception("log follower failed", extra={"event": "LogFollowFailed",
                                                          "container": self.container.name})
            self._state(StreamState("error", f"{type(err).__name__}: {err}"))
        finally:
            self.done.set()
            if self.on_done is not None:
                self.on_done()
            log.info("stopped following container logs", extra={"event": "LogFollowStopped",
                                                                 "container": self.container.name})

    def _run_jsonfile(self) -> None:
        opts = self.options
        position = self.position
        if position is None and opts.at_end:
            position = JsonFileReader.end_position(self.container.log_path)
        elif position is None and opts.tail is not None:
            position = JsonFileReader.tail_position(self.container.log_path, opts.tail)
        max_line = max(MAX_JSONFILE_LINE, self.normalise.max_line_bytes * 2)
        reader = JsonFileReader(self.container.log_path, position, on_lost=self._lost, max_line_bytes=max_line)
        # Poll quickly while lines come, more slowly (up to 250 ms) while the container is quiet.
        fastest = opts.poll_interval
        slowest = max(fastest, min(0.25, self.normalise.flush_timeout / 2))
        poll = fastest
        idle_after_drain = 0
        last_look = time.monotonic()
        viewer = _FileViewer(self) if opts.persistent and opts.follow else None
        try:
            reader = self._split(reader, position, max_line)
            while not self.stopping.is_set():
                lines = reader.read()
                if lines:
                    idle_after_drain = 0
                    poll = fastest
                    self._feed(lines)
                    if viewer is not None:
                        viewer.report(FOLLOWING)
                    continue
                if viewer is not None and viewer.ended(reader):
                    return
                if self.draining.is_set() or not opts.follow:
                    # The engine has written the last lines when it reports the stop; three quiet
                    # looks make sure of it.
                    idle_after_drain += 1
                    if idle_after_drain >= 3 or not opts.follow:
                        if not reader.opened and not os.path.exists(self.container.log_path):
                            self._lost(f"container {self.container.name} was removed before its log could be read")
                        elif not self.stopping.is_set():
                            self.read_to_end = True
                        return
                self._tick()
                if opts.until_stopped and opts.follow and time.monotonic() - last_look >= 1.0:
                    last_look = time.monotonic()
                    if not self._still_running():
                        self.drain()
                        continue
                self.stopping.wait(poll)
                poll = min(slowest, poll * 2)
        finally:
            reader.close()

    def _running(self) -> bool:
        """Whether the engine reports the container running. Raises ContainerNotFound, ObserveError."""
        return bool((self.engine.inspect(self.container.id).get("State") or {}).get("Running"))

    def _still_running(self) -> bool:
        try:
            return self._running()
        except ContainerNotFound:
            return False
        except ObserveError:
            return True  # the engine cannot say now: keep reading the file

    def _run_api(self) -> None:
        c = self.container
        opts = self.options
        tail = opts.tail
        if opts.at_end and self.position is None:
            tail = 0
        reader = ApiLogReader(self.engine, c.id, tty=c.tty, position=self.position, follow=opts.follow, tail=tail,
                              since_ns=opts.since_ns, stall_timeout=opts.stall_timeout, persistent=opts.persistent,
                              on_state=self.on_state, rotates=log_rotates(c.raw))
        self._api = reader
        if self.stopping.is_set():
            reader.close()
        error = _pump(reader, self._feed, self._tick, self.stopping, min(0.25, self.normalise.flush_timeout), c.name)
        if error is not None:
            self.failed = True
            why = str(error) if isinstance(error, ObserveError) else f"{type(error).__name__}: {error}"
            self._state(StreamState("error", why))
            return
        if reader.state.kind != "ended":
            self._state(StreamState("ended", "the stream ended"))
        if reader.missing:
            self._lost(f"container {c.name} was removed before its log could be read")
        elif not self.stopping.is_set():
            self.read_to_end = True


FOLLOWING = StreamState("following")


class _FileViewer:
    """A viewer's json-file stream: tells where it stands from what the engine says, once a second while quiet."""

    def __init__(self, follow: Follow) -> None:
        self.follow = follow
        self.state: StreamState | None = None
        self.last_look = 0.0
        self.report(FOLLOWING)

    def report(self, state: StreamState) -> None:
        if state != self.state:
            self.state = state
            self.follow._state(state)

    def ended(self, reader: JsonFileReader) -> bool:
        """Whether the container is gone (its log read to the end); else the state is brought up to date."""
        now = time.monotonic()
        if now - self.last_look < 1.0:
            return False
        self.last_look = now
        f = self.follow
        try:
            running = f._running()
        except ContainerNotFound:
            while lines := reader.read():  # what was written before the removal
                f._feed(lines)
            self.report(StreamState("ended", "the container was removed"))
            return True
        except ObserveError as err:
            self.report(StreamState("retrying", str(err)))
            return False
        self.report(FOLLOWING if running else StreamState("waiting", "the container is not running"))
        return False


def choose_reader(engine: Engine, c: ContainerInfo, wanted: str) -> str:
    """``json-file`` when asked (or ``auto``) and the log file is local and readable; else ``api``."""
    if wanted == "api":
        return "api"
    usable = engine.is_local and c.log_driver == "json-file" and bool(c.log_path) and os.access(c.log_path, os.R_OK)
    return "json-file" if usable else "api"


def _pump(reader: ApiLogReader, feed: Callable[[list[LogLine]], None], tick: Callable[[], None],
          stopping: threading.Event, interval: float, name: str) -> BaseException | None:
    """Run a blocking API reader on its own thread; ``feed`` batches here and ``tick`` when idle.

    Every error of the reader ends the stream with a ``LogStreamFailed`` event (a reader thread
    never dies silently). Returns how the reading ended (None: cleanly).
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
        except Exception as err:  # a fault of ours or of a library: the stream's end, reported
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
    return ended[0]


def follow_records(engine: Engine, container: ContainerInfo, normalise: NormaliseOptions,
                   on_records: Callable[[list[Record]], None], options: FollowOptions,
                   on_lost: OnLost | None = None, on_state: Callable[[StreamState], None] | None = None) -> Follow:
    """Start a ``Follow`` whose callback takes only the records (what the TUI and ``observe logs`` need)."""
    return Follow(engine, container, normalise, lambda _f, records: on_records(records), options, on_lost,
                  on_state).start()


def run_key(c: ContainerInfo) -> Hashable:
    """Which run of a container an inspect shows: its last start (None: never started)."""
    return c.started_at
