"""The live set of containers: listed once, then kept current from the events stream.

When the events stream drops (dockerd restarted, connection cut) the inventory reconnects
with backoff, replays events since the last one it saw, and resyncs with a full list so
that nothing that happened while it was away is missed. Subscribers are told of every
change through plain callbacks, on the inventory's thread: they must be quick (put the
change on their own queue) and must not raise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from observe.engine import Engine
from observe.engine.inspect import from_inspect
from observe.errors import ContainerNotFound, ObserveError
from observe.model import ContainerEvent, ContainerInfo
from observe.oomkills import OomKills
from observe.selectors import Selection

log = logging.getLogger(__name__)

REFRESH_ACTIONS = frozenset(
    {"create", "start", "restart", "die", "stop", "kill", "pause", "unpause", "rename",
     "health_status", "oom", "update"}
)
ADDED, UPDATED, REMOVED = "added", "updated", "removed"
RAN_ACTIONS = frozenset({"start", "restart", "die", "stop", "kill", "oom", "pause", "unpause"})
"""Engine events that show a container ran, even when it is gone before it could be inspected."""
_EVENT_ONLY_ATTRIBUTES = frozenset({"image", "name", "exitCode", "signal", "oldName", "execDuration"})


@dataclass(frozen=True, slots=True)
class InventoryChange:
    """A container came into view, changed, or left it (destroyed or no longer selected).

    ``event`` is the engine event that caused it; None for changes found by a resync.
    """

    kind: str
    container: ContainerInfo
    event: ContainerEvent | None = None


Listener = Callable[[InventoryChange], None]
EventListener = Callable[[ContainerEvent], None]


def normalise_event(raw: Mapping[str, Any], known: ContainerInfo | None) -> ContainerEvent:
    """An engine event dict as a ``ContainerEvent`` (``health_status: healthy`` split in two)."""
    actor = raw.get("Actor") or {}
    attrs: dict[str, str] = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
    action_full = str(raw.get("Action") or raw.get("status") or "")
    action, _, detail = action_full.partition(":")
    action = action.strip()
    health = detail.strip() if action == "health_status" else ""
    exit_code = None
    if "exitCode" in attrs and attrs["exitCode"].lstrip("-").isdigit():
        exit_code = int(attrs["exitCode"])
    time_ns = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
    cid = str(actor.get("ID") or raw.get("id") or "")
    return ContainerEvent(
        time_ns=time_ns,
        action=action,
        container_id=cid,
        name=attrs.get("name", known.name if known else ""),
        image=attrs.get("image", known.image if known else ""),
        service=known.service.name if known else attrs.get("name", ""),
        attributes=attrs,
        health=health,
        exit_code=exit_code,
        old_name=attrs.get("oldName", "").lstrip("/"),
    )


class Inventory:
    """Current containers, as ``ContainerInfo`` values, kept live from the engine's events.

    Args:
        engine: the connected engine.
        selection: which containers are in view.
        service_label: a label key that names service groups (see ``service_group``).
        history: how many recent events are kept for ``recent_events``.
        backoff_max: the longest wait between reconnection attempts, in seconds.

    OOM kills are known from the ``oom`` events too (``observe.oomkills``): the engine's flag can be lost.

    Cost: a container whose event attributes (its labels, name and image) already show that the selection
    cannot take it (``Selection.rules_out``) is not inspected on its events, only remembered by id and name;
    ``get`` inspects it when asked. On a shared host most events are other people's containers.
    """

    def __init__(
        self,
        engine: Engine,
        selection: Selection | None = None,
        service_label: str = "",
        history: int = 2000,
        backoff_max: float = 5.0,
    ) -> None:
        self.engine = engine
        self.selection = selection or Selection()
        self.service_label = service_label
        self.backoff_max = backoff_max
        self._lock = threading.RLock()
        self._all: dict[str, ContainerInfo] = {}
        self._verdicts: dict[str, tuple[ContainerInfo, Selection, bool]] = {}
        self._listeners: list[Listener] = []
        self._event_listeners: list[EventListener] = []
        self._events: deque[ContainerEvent] = deque(maxlen=history)
        self._seen: deque[tuple[int, str, str]] = deque(maxlen=512)
        self._images: dict[tuple[str, str], tuple[str, str]] = {}  # service -> the image of its newest replica
        self._gone: deque[str] = deque(maxlen=512)  # reported gone before they could be inspected
        self._skipped: dict[str, str] = {}  # id -> name of containers the selection cannot take, not inspected
        self._ooms = OomKills()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._since: float | None = None
        self.connected = False
        self.resyncs = 0
        self.reconnects = 0
        self.last_error = ""

    # -- reading -----------------------------------------------------------------------
    def _selected(self, c: ContainerInfo) -> bool:
        """Whether the selection takes ``c``; remembered per container object (they are immutable), because
        the sampler asks for every container on the host at every sweep."""
        known = self._verdicts.get(c.id)
        if known is not None and known[0] is c and known[1] is self.selection:
            return known[2]
        verdict = self.selection.matches(c.name, c.image, c.labels)
        with self._lock:
            if len(self._verdicts) > 2 * len(self._all) + 64:  # forget containers long gone
                self._verdicts = {cid: v for cid, v in self._verdicts.items() if cid in self._all}
            self._verdicts[c.id] = (c, self.selection, verdict)
        return verdict

    def containers(self, include_stopped: bool = True) -> list[ContainerInfo]:
        """The selected containers, sorted by name."""
        with self._lock:
            found = [c for c in self._all.values() if self._selected(c)]
        if not include_stopped:
            found = [c for c in found if c.running]
        return sorted(found, key=lambda c: c.name)

    def get(self, ref: str) -> ContainerInfo | None:
        """A known container by full id, id prefix (12+) or name; selected or not."""
        with self._lock:
            if ref in self._all:
                return self._all[ref]
            name = ref.lstrip("/")
            for c in self._all.values():
                if c.name == name:
                    return c
            if len(ref) >= 12:
                matches = [c for c in self._all.values() if c.id.startswith(ref)]
                if len(matches) == 1:
                    return matches[0]
            skipped = [cid for cid, n in self._skipped.items() if ref in (cid, n) or (len(ref) >= 12
                       and cid.startswith(ref))]
        if len(skipped) != 1:
            return None
        try:  # outside the selection: not followed, so inspected now, when asked for
            return self._build(self.engine.inspect(skipped[0]))
        except ObserveError:
            return None

    def past_events(self, container_id: str, since: float, until: float | None = None) -> list[ContainerEvent]:
        """A container's events between two unix times (``until`` defaults to now), normalised, oldest first.

        What the engine still holds from before the inventory started, normalised as the live ones are, so
        that the two can be de-duplicated by ``(time_ns, action, health)``.

        Raises:
            EngineUnavailable: the engine cannot be reached.
        """
        return self._past_events_of(self.get(container_id), since, time.time() if until is None else until,
                                    container_id)

    def _past_events_of(self, known: ContainerInfo | None, since: float, until: float,
                        container_id: str = "") -> list[ContainerEvent]:
        raws = self.engine.past_events(since, until, container_id or (known.id if known else ""))
        events = [normalise_event(raw, known) for raw in raws if raw.get("Type", "container") == "container"]
        return sorted(events, key=lambda e: e.time_ns)

    def recent_events(self, container_id: str | None = None) -> list[ContainerEvent]:
        with self._lock:
            return [e for e in self._events if container_id is None or e.container_id == container_id]

    # -- subscribing -------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def subscribe_events(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` with every container event about a selected container."""
        with self._lock:
            self._event_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._event_listeners:
                    self._event_listeners.remove(listener)

        return unsubscribe

    def _emit(self, change: InventoryChange) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # a listener's bug must not stop the inventory
                log.exception("inventory listener failed", extra={"event": "InventoryListenerFailed"})

    def _emit_event(self, event: ContainerEvent) -> None:
        with self._lock:
            listeners = list(self._event_listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the inventory
                log.exception("event listener failed", extra={"event": "InventoryListenerFailed"})

    # -- keeping current ---------------------------------------------------------------
    def _build(self, doc: Mapping[str, Any]) -> ContainerInfo:
        return self._ooms.apply(from_inspect(doc, self.engine.info(), self.service_label))

    def _put(self, new: ContainerInfo, event: ContainerEvent | None) -> None:
        with self._lock:
            old = self._all.get(new.id)
            self._all[new.id] = new
            self._skipped.pop(new.id, None)
        was = old is not None and self._selected(old)
        now = self._selected(new)
        if now and not was:
            log.log(logging.INFO if event else logging.DEBUG, "container in view",
                    extra={"event": "InventoryContainerAdded", "container": new.name})
            self._note_image(new)
            self._emit(InventoryChange(ADDED, new, event))
        elif now and was and (old != new or event is not None):
            self._emit(InventoryChange(UPDATED, new, event))
        elif was and old is not None:
            self._emit(InventoryChange(REMOVED, new, event))

    def _note_image(self, c: ContainerInfo) -> None:
        """A deploy marker: log ``ServiceImageChanged`` when a service's new replica runs another image (or the
        same tag pointing at another image) than the replica added before it. The first one seen is not a change."""
        key = (c.service.kind, c.service.name)
        now = (c.image, c.image_id)
        with self._lock:
            before = self._images.get(key)
            self._images[key] = now
        if before is not None and before != now:
            log.info("service image changed", extra={
                "event": "ServiceImageChanged", "service": c.service.name, "service_kind": c.service.kind,
                "container": c.name, "image": c.image, "image_id": c.image_id,
                "previous_image": before[0], "previous_image_id": before[1]})

    def _drop(self, container_id: str, event: ContainerEvent | None) -> None:
        with self._lock:
            old = self._all.pop(container_id, None)
        if old is not None and self._selected(old):
            log.info("container gone", extra={"event": "InventoryContainerRemoved", "container": old.name})
            self._emit(InventoryChange(REMOVED, old, event))

    def _refresh(self, container_id: str, event: ContainerEvent | None) -> None:
        try:
            doc = self.engine.inspect(container_id)
        except ContainerNotFound:
            with self._lock:
                known = container_id in self._all
            if known:
                self._drop(container_id, event)
            elif event is not None:
                self._vanished(event)
            return
        self._put(self._build(doc), event)

    def _vanished(self, event: ContainerEvent) -> None:
        """A selected container ran and was removed before it could be inspected: a REMOVED change, once.

        What is known of it comes from the event (name, image, labels), so that a log reader
        can say by name that its lines could not be read.
        """
        cid = event.container_id
        if event.action not in RAN_ACTIONS or cid in self._gone:
            return
        labels = {k: v for k, v in event.attributes.items() if k not in _EVENT_ONLY_ATTRIBUTES}
        doc = {"Id": cid, "Name": "/" + event.name, "Config": {"Image": event.image, "Labels": labels},
               "State": {"Status": "removed"}}
        info = self._build(doc)
        if not self._selected(info):
            return
        self._gone.append(cid)
        log.info("container gone before it could be inspected",
                 extra={"event": "InventoryContainerRemoved", "container": info.name})
        self._emit(InventoryChange(REMOVED, info, event))

    def resync(self) -> None:
        """List every container and reconcile: new ones added, gone ones removed, all refreshed.

        Raises:
            EngineUnavailable: the engine cannot be reached.
        """
        ids = self.engine.container_ids(all=True)
        docs: dict[str, ContainerInfo] = {}
        for cid in ids:
            try:
                docs[cid] = self._ooms.recall(self._build(self.engine.inspect(cid)), self._past_events_of)
            except ContainerNotFound:
                continue
        with self._lock:
            gone = [cid for cid in self._all if cid not in docs]
        for cid in gone:
            self._drop(cid, None)
        for info in docs.values():
            self._put(info, None)
        with self._lock:
            self._skipped.clear()
        self.resyncs += 1

    def handle(self, raw: Mapping[str, Any]) -> None:
        """Apply one engine event (public so tests can feed recorded events)."""
        if raw.get("Type", "container") != "container":
            return
        cid = str((raw.get("Actor") or {}).get("ID") or raw.get("id") or "")
        if not cid:
            return
        with self._lock:
            known = self._all.get(cid)
        event = normalise_event(raw, known)
        key = (event.time_ns, cid, str(raw.get("Action")))
        if key in self._seen:
            return
        self._seen.append(key)
        self._since = event.time_ns / 1e9
        if event.action == "oom":
            self._ooms.seen(cid, event.time_ns)
        if event.action == "destroy":
            if known is not None and self._selected(known):
                self._record(event)
            self._drop(cid, event)
            with self._lock:
                self._skipped.pop(cid, None)
            self._ooms.forget(cid)
            return
        if (known is None or not self._selected(known)) and self.selection.rules_out(event.attributes):
            with self._lock:  # another session's container, say: its events need no inspect (get does it)
                self._all.pop(cid, None)
                self._skipped[cid] = event.name
            return
        if event.action in REFRESH_ACTIONS or known is None:
            self._refresh(cid, event)
        with self._lock:
            current = self._all.get(cid)
        if current is not None and self._selected(current):
            self._record(
                ContainerEvent(
                    event.time_ns, event.action, cid, current.name, current.image, current.service.name,
                    event.attributes, event.health, event.exit_code, event.old_name,
                )
            )

    def _record(self, event: ContainerEvent) -> None:
        with self._lock:
            self._events.append(event)
        self._emit_event(event)

    def start(self) -> None:
        """List the containers now (raising if the engine is unreachable), then follow events.

        Raises:
            EngineUnavailable: the first listing failed.
        """
        self._since = time.time()
        self.resync()
        self._stream = self.engine.events(since=self._since)
        self.connected = True
        self._thread = threading.Thread(target=self._run, name="observe-inventory", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        backoff = 0.2
        first = True
        while not self._stop.is_set():
            try:
                if not first:
                    self._stream = self.engine.events(since=self._since)
                    self.resync()
                    self.reconnects += 1
                    self.connected = True
                    self.last_error = ""
                    log.warning("events stream reconnected and resynced",
                                extra={"event": "InventoryResynced", "containers": len(self._all)})
                first = False
                backoff = 0.2
                for raw in self.engine.iter_stream(self._stream):
                    if self._stop.is_set():
                        return
                    self.handle(raw)
                if self._stop.is_set():
                    return
                self.last_error = "events stream ended"
            except ObserveError as err:
                self.last_error = str(err)
            except Exception as err:  # keep following whatever a bad event does
                if self._stop.is_set():
                    return  # the stream was closed under its reader by stop(): not a failure
                log.exception("inventory loop failed", extra={"event": "InventoryLoopFailed"})
                self.last_error = repr(err)
            if self._stop.is_set():
                return
            if self.connected:
                log.warning("events stream lost; reconnecting",
                            extra={"event": "InventoryDisconnected", "error": self.last_error})
            self.connected = False
            first = False
            self._stop.wait(backoff)
            backoff = min(self.backoff_max, backoff * 2)

    def drop_connection(self) -> None:
        """Close the current events stream, as a dropped connection would (used by tests)."""
        stream = self._stream
        if stream is not None:
            stream.close()

    def stop(self) -> None:
        self._stop.set()
        self.drop_connection()
        if self._thread is not None:
            self._thread.join(timeout=5)
