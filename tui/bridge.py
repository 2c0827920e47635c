"""Where core threads meet Textual's loop: core callbacks become small, coalesced messages.

The core calls back from its own threads (the inventory's, a log follower's). Those callbacks
only touch a lock-protected buffer and post at most one message until the UI has taken what
is pending, so a burst of ten thousand log lines or a hundred container changes costs the UI
one message, and memory stays bounded by the buffer's ``maxlen``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump

from observe.model import ContainerEvent, StreamState


class ContainersChanged(Message):
    """The inventory changed (one message however many changes happened before it was handled)."""


class EngineEventArrived(Message):
    """A container event for the Events pane."""

    def __init__(self, event: ContainerEvent) -> None:
        super().__init__()
        self.event = event


class LogStreamChanged(Message):
    """A followed log stream's state changed (following, retrying, waiting, ended, error)."""

    def __init__(self, state: StreamState, container_id: str = "") -> None:
        super().__init__()
        self.state = state
        self.container_id = container_id


class LogsPending(Message):
    """New records are waiting in a ``LogFeed``; the receiver calls ``feed.drain()``."""

    def __init__(self, feed: LogFeed) -> None:
        super().__init__()
        self.feed = feed


class ChangeBridge:
    """Posts ``ContainersChanged`` to ``target`` when the inventory changes, coalesced until ``taken()``.

    Args:
        target: the app or screen that receives the messages.
        subscribe: the inventory's ``subscribe``.
    """

    def __init__(self, target: MessagePump, subscribe: Callable[[Callable[[Any], None]], Callable[[], None]]) -> None:
        self.target = target
        self._pending = threading.Event()
        self._unsubscribe = subscribe(self._on_change)

    def _on_change(self, change: object) -> None:
        if not self._pending.is_set():
            self._pending.set()
            self.target.post_message(ContainersChanged())

    def taken(self) -> None:
        """The UI has re-read the inventory: the next change posts again."""
        self._pending.clear()

    def close(self) -> None:
        self._unsubscribe()


class LogFeed:
    """A bounded buffer of records filled by a core thread and drained by the UI.

    Args:
        target: what receives ``LogsPending``.
        maxlen: records kept while the UI is behind; older ones are dropped and counted.
    """

    def __init__(self, target: MessagePump, maxlen: int = 10_000) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._pending: deque[Any] = deque(maxlen=maxlen)
        self._posted = False
        self.received = 0
        self.dropped = 0
        self.closed = False

    def on_records(self, records: Sequence[Any]) -> None:
        """The core's callback (any thread): keep the records and wake the UI once."""
        if self.closed:
            return
        with self._lock:
            overflow = len(self._pending) + len(records) - (self._pending.maxlen or 0)
            if overflow > 0:
                self.dropped += overflow
            self._pending.extend(records)
            self.received += len(records)
            post = not self._posted
            self._posted = True
        if post:
            self.target.post_message(LogsPending(self))

    def drain(self) -> list[Any]:
        """Everything pending, oldest first (UI thread); the next record posts again."""
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
            self._posted = False
        return out

    def close(self) -> None:
        self.closed = True
