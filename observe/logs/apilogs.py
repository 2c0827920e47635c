"""The Docker API log reader: works with any driver that can be read and with remote engines.

The engine's follow stream has two faults after its json-file log rotates: it may stall, and it
may send again lines it already sent. Both are handled here.

It asks for Docker's timestamps and keeps the last (time, ordinal within that instant) it
handed out. When the follow stream stalls (the engine has a known fault where a follow stream
stops after the log file rotates) or drops, it reopens with ``since`` at that instant and skips
what it already gave, so nothing is repeated and nothing is lost.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator

from observe.engine import Engine, LogStream, StreamStalled
from observe.errors import ContainerNotFound, EngineUnavailable
from observe.model import LogLine, LogPosition, StreamState
from observe.timefmt import parse_ns

log = logging.getLogger(__name__)

PARTIAL_SIZE = 16 * 1024
RECENT_LINES = 65536
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0
"""Seconds between reopens of a stream that gave nothing (a crash-looping container, an engine that is
down): doubling from the first to the max, back to none as soon as a stream gives lines."""
_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) ")


class _StreamBuffer:
    """Turns one stream's payload bytes (not line-aligned) into timestamped messages."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.buf = b""

    def feed(self, data: bytes, final: bool = False) -> list[tuple[int, bytes, bool]]:
        """(time_ns, content, partial) for every complete message in the buffer."""
        self.buf += data
        out: list[tuple[int, bytes, bool]] = []
        buf = self.buf
        pos = 0
        while pos < len(buf):
            m = _TS.match(buf, pos)
            if m is None:
                # Not at a timestamp: bytes we cannot place (should not happen); keep them as text.
                nl = buf.find(b"\n", pos)
                if nl < 0 and not final:
                    break
                end = len(buf) if nl < 0 else nl
                out.append((0, buf[pos:end], False))
                pos = end + 1
                continue
            start = m.end()
            nl = buf.find(b"\n", start)
            # Docker splits messages over 16 KiB into partial messages, each with its own timestamp.
            if (nl < 0 or nl - start > PARTIAL_SIZE) and _TS.match(buf, start + PARTIAL_SIZE):
                out.append((parse_ns(m.group()[:-1].decode()), buf[start:start + PARTIAL_SIZE], True))
                pos = start + PARTIAL_SIZE
                continue
            if nl < 0:
                if final:
                    out.append((parse_ns(m.group()[:-1].decode()), buf[start:], True))
                    pos = len(buf)
                break
            out.append((parse_ns(m.group()[:-1].decode()), buf[start:nl], False))
            pos = nl + 1
        self.buf = buf[pos:]
        return out


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
        self._stream: LogStream | None = None
        self._closed = threading.Event()

    def _open(self, first: bool) -> LogStream:
        since = self.last_ns or self.since_ns
        return self.engine.log_stream(
            self.container_id,
            follow=self.follow,
            since_ns=since,
            tail=self.tail if first and not self.last_ns else None,
            read_timeout=self.stall_timeout if self.follow else None,
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

    def _report(self, kind: str, detail: str = "") -> None:
        state = StreamState(kind, detail)
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def batches(self) -> Iterator[list[LogLine]]:
        """Batches of new lines, in order. Ends when the container stops (or, without follow, at the end).

        A stream that ends cleanly but gave nothing is reopened after a growing pause (a
        container that crash-loops is "running" between restarts), never in a tight loop.

        Raises:
            ContainerNotFound: the container is gone.
            EngineUnavailable: the engine stayed unreachable (not when ``persistent``: then it retries).
        """
        first = True
        backoff = 0.0
        while not self._closed.is_set():
            if backoff and self._closed.wait(backoff):
                return
            self._skip_ns, self._skip_seq, self._at_skip = self.last_ns, self.last_seq, 0
            try:
                self._stream = self._open(first)
            except ContainerNotFound:
                self._report("ended", "the container was removed")
                return
            except EngineUnavailable as err:
                if not (self.follow and self.persistent):
                    raise
                self.reopens += 1
                backoff = min(BACKOFF_MAX, max(BACKOFF_FIRST, backoff * 2))
                self._report("retrying", str(err))
                continue
            first = False
            if self._closed.is_set():  # closed while it opened: close() saw no stream to close
                self._stream.close()
                return
            buffers = {"stdout": _StreamBuffer("stdout"), "stderr": _StreamBuffer("stderr")}
            ended_cleanly = False
            gave = False
            if self.state.kind == "retrying":
                self._report("following")
            try:
                for kind, payload in self._stream:
                    batch = self._lines(buffers[kind].feed(payload), kind)
                    if batch:
                        if not gave:
                            gave = True
                            self._report("following")
                        yield batch
                ended_cleanly = True
            except StreamStalled:
                self.reopens += 1
                log.debug("log stream idle or stalled; reopening from the last position",
                          extra={"event": "LogStreamReopened", "container": self.container_id})
                backoff = 0.0
                continue
            except EngineUnavailable as err:
                if self._closed.is_set():
                    return
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
                for kind, buffer in buffers.items():
                    batch = self._lines(buffer.feed(b"", final=True), kind)
                    if batch:
                        gave = True
                        yield batch
                if not self.follow or self._closed.is_set():
                    return
                running = self._running()
                if running is None:
                    return
                if not running:
                    if not self.persistent:
                        self._report("ended", "the container stopped")
                        return
                    if self.state.kind != "retrying":
                        self._report("waiting", "the container is not running")
                self.reopens += 1
                backoff = 0.0 if gave else min(BACKOFF_MAX, max(BACKOFF_FIRST, backoff * 2))

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

    def _lines(self, messages: list[tuple[int, bytes, bool]], stream: str) -> list[LogLine]:
        out: list[LogLine] = []
        for time_ns, content, partial in messages:
            stamp = time_ns or self.last_ns
            if self._replayed(stamp):
                continue
            key = (stamp, stream, hash(content))
            if not partial and stamp <= self.last_ns and key in self._recent_set:
                self.duplicates += 1
                continue
            self._advance(stamp)
            if not partial:
                if len(self._recent) == RECENT_LINES:
                    self._recent_set.discard(self._recent[0])
                self._recent.append(key)
                self._recent_set.add(key)
            if content.endswith(b"\r") and not partial:
                content = content[:-1] if self.tty else content
            try:
                text, invalid = content.decode("utf-8"), False
            except UnicodeDecodeError:
                text, invalid = content.decode("utf-8", "replace"), True
            # The position is the high-water mark, so that a checkpoint never moves backwards.
            out.append(LogLine(stamp, stream, text, partial, invalid, LogPosition(self.last_ns, self.last_seq)))
        return out

    def close(self) -> None:
        """Stop reading (from any thread)."""
        self._closed.set()
        stream = self._stream
        if stream is not None:
            stream.close()
