"""The Docker API log reader: works with any driver that can be read and with remote engines.

The engine's follow stream has three faults when its json-file (or local) log rotates: it may
stall, it may send again lines it already sent, and, when it is more than a file behind the
writer, it skips the files between (dockerd 20.10 opens the log's current file by name at a
rotation). All three are handled here.

It asks for Docker's timestamps and keeps the last (time, ordinal within that instant) it
handed out. When the follow stream stalls (the engine has a known fault where a follow stream
stops after the log file rotates) or drops, it reopens with ``since`` at that instant and skips
what it already gave, so nothing is repeated and nothing is lost. When the lines it reads fall
``CATCH_UP_LAG`` behind the engine's clock, it leaves the follow stream before a rotation can
skip a file, reads without follow from its mark (such a read takes every file it opened, to
their ends), and follows again from where that read ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from observe.engine import Engine, LogStream, StreamStalled
from observe.errors import ContainerNotFound, EngineUnavailable, ObserveError
from observe.logs.apiframes import Message, RawSplitter, decode, incomplete_tail, split_frame
from observe.model import LogLine, LogPosition, StreamState

log = logging.getLogger(__name__)

RECENT_LINES = 65536
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0
"""Seconds between reopens of a stream that gave nothing (a crash-looping container, an engine that is
down): doubling from the first to the max, back to none as soon as a stream gives lines."""
CATCH_UP_LAG = 0.5
"""Seconds a follow stream's lines may trail the engine's clock before the reader catches up without follow."""


class ApiLogReader:
    """Reads a container's log lines through the engine API.

    Args:
        engine: the connected engine.
        container_id: the container to read.
        tty: the container has a TTY (one raw stream, all stdout).
        position: resume after this position (None: from the start, or ``tail``).
        follow: keep reading until the container stops or ``close()``.
        tail: only the last N lines at the first open.
        stall_timeout: seconds without data before the stream is reopened from the last position.
        persistent: keep following through engine outages and container restarts (a viewer's stream):
            end only on ``close()`` or when the container is removed.
        on_state: told (from the reading thread) when the stream starts following, retries, waits
            for its container to run again, or ends.
        rotates: the log is files rotated by size (``observe.engine.inspect.log_rotates``): only
            then can the follow stream skip a file, so only then does a trailing reader catch up
            (a read without follow makes the engine scan the log from its first file).
    """

    def __init__(
        self,
        engine: Engine,
        container_id: str,
        *,
        tty: bool = False,
        position: LogPosition | None = None,
        follow: bool = True,
        tail: int | None = None,
        since_ns: int = 0,
        stall_timeout: float = 10.0,
        persistent: bool = False,
        on_state: Callable[[StreamState], None] | None = None,
        rotates: bool = True,
    ) -> None:
        self.engine = engine
        self.persistent = persistent
        self.on_state = on_state
        self.state = StreamState("following")
        self.container_id = container_id
        self.tty = tty
        self.follow = follow
        self.tail = tail
        self.since_ns = since_ns
        self.stall_timeout = stall_timeout
        # The high-water mark: the latest time handed out and how many lines at that instant, less one.
        self.last_ns = position.time_ns if position else 0
        self.last_seq = position.seq if position else -1
        self.reopens = 0
        self.catch_ups = 0
        self.rotates = rotates
        self._lag_ns = int(CATCH_UP_LAG * 1e9)
        self._clock_offset: int | None = None
        # What the current stream replays and must be skipped: lines before the mark's instant, and
        # the first ``_skip_seq + 1`` lines at it.
        self._skip_ns = self.last_ns
        self._skip_seq = self.last_seq
        self._at_skip = 0
        # Recent complete lines by (time, stream, content hash): after a rotation the engine's follow
        # stream sends again lines it already sent (times going back); those are dropped and counted.
        self._recent: deque[tuple[int, str, int]] = deque(maxlen=RECENT_LINES)
        self._recent_set: set[tuple[int, str, int]] = set()
        self.duplicates = 0
        self.missing = False
        self._carry: dict[str, bytes] = {}
        self._open_line: dict[str, int] = {}  # stream -> time of its line whose last chunk had no newline
        self._stream: LogStream | None = None
        self._closed = threading.Event()

    def _open(self, first: bool, follow: bool) -> LogStream:
        since = self.last_ns or self.since_ns
        return self.engine.log_stream(
            self.container_id,
            follow=follow,
            since_ns=since,
            tail=self.tail if first and not self.last_ns else None,
            read_timeout=self.stall_timeout if follow else None,
            tty=self.tty,
        )

    def _replayed(self, time_ns: int) -> bool:
        """Whether a reopened stream replays this line (at or before the mark it resumed from).

        Within one stream lines are taken as they come: stdout and stderr interleave, and the
        chunks of a long line carry the time it began, so times are not monotonic.
        """
        if self._skip_ns:
            if time_ns < self._skip_ns:
                return True
            if time_ns == self._skip_ns:
                ordinal = self._at_skip
                self._at_skip += 1
                return ordinal <= self._skip_seq
        return False

    def _advance(self, time_ns: int) -> None:
        """Move the high-water mark over a line handed out."""
        if time_ns > self.last_ns:
            self.last_ns, self.last_seq = time_ns, 0
        elif time_ns == self.last_ns:
            self.last_seq += 1

    def _behind(self, time_ns: int) -> bool:
        """Whether a line of this time, read now, trails the engine's clock by more than the lag allowed."""
        if self._clock_offset is None:
            try:
                self._clock_offset = self.engine.clock_offset_ns()
            except ObserveError:
                self._clock_offset = 0
        return time_ns > 0 and time.time_ns() + self._clock_offset - time_ns > self._lag_ns

    def _report(self, kind: str, detail: str = "") -> None:
        state = StreamState(kind, detail)
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def batches(self) -> Iterator[list[LogLine]]:
        """Batches of new lines, in order. Ends when the container stops (or, without follow, at the end).

        A stream that ends cleanly but gave nothing is reopened after a growing pause (a
        container that crash-loops is "running" between restarts), never in a tight loop. When a
        follow stream ends on a stopped container, one read without follow, from the last
        position, takes what the stream left out (dockerd's follow stream omits a last line that
        has no newline). ``missing`` says the container was gone before anything was read.

        Raises:
            EngineUnavailable: the engine stayed unreachable (not when ``persistent``: then it retries).
        """
        first = True
        backoff = 0.0
        last_read = False
        catching_up = False
        while not self._closed.is_set():
            if backoff and self._closed.wait(backoff):
                break
            self._skip_ns, self._skip_seq, self._at_skip = self.last_ns, self.last_seq, 0
            following = self.follow and not last_read and not catching_up
            caught_up_read, catching_up = catching_up, False
            try:
                self._stream = self._open(first, following)
            except ContainerNotFound:
                self._report("ended", "the container was removed")
                self.missing = first
                break
            except EngineUnavailable as err:
                if not (self.follow and self.persistent):
                    raise
                self.reopens += 1
                backoff = min(BACKOFF_MAX, max(BACKOFF_FIRST, backoff * 2))
                self._report("retrying", str(err))
                continue
            except ObserveError:
                if not self._being_removed():  # the engine refuses the logs of a container it is removing
                    raise
                self._report("ended", "the container was removed")
                self.missing = first
                break
            first = False
            if self._closed.is_set():  # closed while it opened: close() saw no stream to close
                self._stream.close()
                return
            raw = RawSplitter() if self.tty else None
            ended_cleanly = False
            gave = False
            if self.state.kind == "retrying":
                self._report("following")
            try:
                for kind, payload in self._stream:
                    messages = [split_frame(payload)] if raw is None else raw.feed(payload)
                    batch = self._lines(messages, kind)
                    if batch:
                        if not gave:
                            gave = True
                            self._report("following")
                        yield batch
                        if following and self.rotates and self._behind(batch[-1].time_ns):
                            catching_up = True
                            break
                if catching_up:
                    self.catch_ups += 1
                    log.debug("log stream behind the engine; reading without follow to catch up",
                              extra={"event": "LogStreamCatchUp", "container": self.container_id})
                    backoff = 0.0
                    continue
                ended_cleanly = True
            except StreamStalled:
                self.reopens += 1
                log.debug("log stream idle or stalled; reopening from the last position",
                          extra={"event": "LogStreamReopened", "container": self.container_id})
                backoff = 0.0
                continue
            except EngineUnavailable as err:
                if self._closed.is_set():
                    break
                log.warning("log stream dropped; reopening", extra={"event": "LogStreamDropped",
                                                                    "container": self.container_id, "error": str(err)})
                self.reopens += 1
                backoff = min(BACKOFF_MAX, max(1.0, backoff * 2))
                self._report("retrying", str(err))
                continue
            finally:
                if self._stream is not None:
                    self._stream.close()
            if ended_cleanly:
                if caught_up_read and not gave:
                    self._lag_ns *= 2  # it was not behind: the clocks disagree more than measured
                if raw is not None:
                    batch = self._lines(raw.feed(b"", final=True), "stdout")
                    if batch:
                        gave = True
                        yield batch
                if not self.follow or self._closed.is_set():
                    break
                if last_read:
                    last_read = False
                    if not self.persistent:
                        self._report("ended", "the container stopped")
                        break
                    if self.state.kind != "retrying":
                        self._report("waiting", "the container is not running")
                    self.reopens += 1
                    backoff = min(BACKOFF_MAX, max(BACKOFF_FIRST, backoff * 2))
                    continue
                running = self._running()
                if running is None:
                    break
                if not running:
                    last_read = True
                    continue
                self.reopens += 1
                backoff = 0.0 if gave else min(BACKOFF_MAX, max(BACKOFF_FIRST, backoff * 2))
        rest = self._rest()
        if rest:
            yield rest

    def _terminator(self, stream: str, stamp: int) -> LogLine:
        """An empty last chunk that ends the open line of ``stream`` (with any cut character's bytes)."""
        del self._open_line[stream]
        carry = self._carry.pop(stream, b"")
        text, invalid = decode(carry) if carry else ("", False)
        return LogLine(stamp, stream, text, False, invalid, LogPosition(self.last_ns, self.last_seq))

    def _rest(self) -> list[LogLine]:
        """At the end of the log: end every open line, with the bytes of a character its last chunk cut."""
        return [self._terminator(stream, stamp) for stream, stamp in list(self._open_line.items())]

    def _being_removed(self) -> bool:
        """Whether the container is gone, dead or being removed (the engine cannot say: False)."""
        try:
            state = self.engine.inspect(self.container_id).get("State") or {}
        except ContainerNotFound:
            return True
        except ObserveError:
            return False
        return state.get("Status") in ("removing", "dead")

    def _running(self) -> bool | None:
        """Whether the container runs; None once it is gone. An engine that cannot say is "not
        running" (after reporting ``retrying``) when persistent, an error otherwise."""
        try:
            state = self.engine.inspect(self.container_id).get("State") or {}
        except ContainerNotFound:
            self._report("ended", "the container was removed")
            return None
        except EngineUnavailable as err:
            if not self.persistent:
                raise
            self._report("retrying", str(err))
            return False
        return bool(state.get("Running"))

    def _lines(self, messages: list[Message], stream: str) -> list[LogLine]:
        out: list[LogLine] = []
        for time_ns, content, partial in messages:
            stamp = time_ns or self.last_ns
            if self._replayed(stamp):
                continue
            key = (stamp, stream, hash(content))
            if not partial and stamp <= self.last_ns and key in self._recent_set:
                self.duplicates += 1
                continue
            opened = self._open_line.get(stream)
            if opened is not None and opened != stamp:
                # Every chunk of a split line carries the time of its first: a new time on this
                # stream means the open line ended without a newline (the local driver's last chunk).
                out.append(self._terminator(stream, opened))
            self._advance(stamp)
            if partial:
                self._open_line[stream] = stamp
            else:
                self._open_line.pop(stream, None)
                if len(self._recent) == RECENT_LINES:
                    self._recent_set.discard(self._recent[0])
                self._recent.append(key)
                self._recent_set.add(key)
            # Decoded as the joined bytes of the line would be: a character cut by a chunk boundary
            # waits for the rest of its bytes in the next chunk of the same stream.
            carry = self._carry.get(stream)
            if carry:
                content = carry + content
                self._carry[stream] = b""
            if partial:
                cut = incomplete_tail(content)
                if cut:
                    self._carry[stream] = content[-cut:]
                    content = content[:-cut]
            elif self.tty and content.endswith(b"\r"):
                content = content[:-1]
            text, invalid = decode(content)
            # The position is the high-water mark, so that a checkpoint never moves backwards.
            out.append(LogLine(stamp, stream, text, partial, invalid, LogPosition(self.last_ns, self.last_seq)))
        return out

    def close(self) -> None:
        """Stop reading (from any thread)."""
        self._closed.set()
        stream = self._stream
        if stream is not None:
            stream.close()
