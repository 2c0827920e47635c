"""Container actions as data: which apply in which state, what a bulk action will do, and how each one went.

Pure and thread-safe, no Textual: the app plans a bulk action with ``plan``, asks with its
``question``, and records in an ``ActionTracker`` what is pending and how each container's
action ended; the containers table reads the tracker to show ``stopping…`` and the result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.binding import Binding

from observe.model import ContainerInfo

VALID_VERBS: dict[str, frozenset[str]] = {
    "running": frozenset({"stop", "restart", "pause", "kill", "remove"}),
    "paused": frozenset({"unpause", "stop", "restart", "kill", "remove"}),
    "restarting": frozenset({"stop", "kill", "remove"}),
    "created": frozenset({"start", "remove"}),
    "exited": frozenset({"start", "restart", "remove"}),
    "dead": frozenset({"remove"}),
}
"""The actions that make sense in each container state (an unknown state allows them all)."""
PENDING = {"start": "starting", "stop": "stopping", "restart": "restarting", "pause": "pausing",
           "unpause": "unpausing", "kill": "killing", "remove": "removing"}
ACTION_VERBS = ("start", "stop", "restart", "pause", "unpause", "kill", "remove")
ACTION_KEYS = {"restart": "r", "stop": "s", "start": "S", "pause": "p", "unpause": "p", "kill": "k", "remove": "d"}
"""The key of each action on one container, the same on the containers list and the detail screen."""
FORCED_STATES = frozenset({"running", "paused", "restarting"})
"""States in which removing a container kills it first (``docker rm -f``)."""
NAMES_SHOWN = 6
"""A confirmation names at most this many containers, then says how many more."""
OUTCOME_SECONDS = 15.0
"""How long a row shows how its last action ended."""


def verb_allowed(state: str, verb: str) -> bool:
    """Whether ``verb`` applies to a container in ``state``."""
    valid = VALID_VERBS.get(state)
    return valid is None or verb in valid


def valid_verbs(state: str) -> list[str]:
    """The actions valid in ``state``, in ``ACTION_VERBS`` order."""
    return [v for v in ACTION_VERBS if verb_allowed(state, v)]


def offered(state: str) -> str:
    """The valid actions with their keys, as a hint line says them; removing says when it will force."""
    parts = []
    for verb in valid_verbs(state):
        note = " (will force)" if verb == "remove" and state in FORCED_STATES else ""
        parts.append(f"{ACTION_KEYS[verb]} {verb}{note}")
    return " · ".join(parts)


def names(items: Iterable[str], limit: int = NAMES_SHOWN) -> str:
    """``a, b, c`` or ``a, b, c and 4 more``."""
    items = list(items)
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


@dataclass(frozen=True, slots=True)
class Plan:
    """A bulk action: the containers it applies to, and those skipped because of their state.

    ``scope`` says what was chosen (``3 marked containers``, ``service shop/web``).
    """

    verb: str
    scope: str
    apply: tuple[ContainerInfo, ...]
    skipped: tuple[ContainerInfo, ...]

    def question(self) -> str:
        """The confirmation: what will happen to which containers, and which are skipped and why."""
        text = f"{self.verb.capitalize()} {self.scope}: {len(self.apply)} container"
        text += f"{'s' if len(self.apply) != 1 else ''} ({names(c.name for c in self.apply)})?"
        forced = [c.name for c in self.apply if self.verb == "remove" and c.running]
        if forced:
            text += f" Running ones ({names(forced)}) will be killed and force-removed."
        if self.skipped:
            text += f" Skipped, {self.verb} does not apply: {self.skipped_text()}."
        return text

    def skipped_text(self) -> str:
        return names(f"{c.name} ({c.state})" for c in self.skipped)


def plan(verb: str, scope: str, containers: Iterable[ContainerInfo]) -> Plan:
    """Split ``containers`` into those ``verb`` applies to in their state and those it does not."""
    chosen = list(containers)
    return Plan(verb, scope, tuple(c for c in chosen if verb_allowed(c.state, verb)),
                tuple(c for c in chosen if not verb_allowed(c.state, verb)))


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a container's last action ended: ``error`` is the engine's message in one line, "" when it worked."""

    verb: str
    error: str
    at: float

    @property
    def ok(self) -> bool:
        return not self.error


class ActionTracker:
    """What each container's action is doing: pending while the engine works, then its outcome for a while.

    Safe to call from worker threads. Args:
        clock: monotonic seconds (a parameter, so tests can move time).
        keep: seconds an outcome stays shown.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, keep: float = OUTCOME_SECONDS) -> None:
        self.clock = clock
        self.keep = keep
        self._lock = threading.Lock()
        self._pending: dict[str, str] = {}
        self._outcomes: dict[str, Outcome] = {}

    def start(self, container_id: str, verb: str) -> None:
        with self._lock:
            self._pending[container_id] = verb
            self._outcomes.pop(container_id, None)

    def finish(self, container_id: str, verb: str, error: str = "") -> None:
        """The action ended; ``error`` (the engine's message) is cut to its first line."""
        line = error.strip().splitlines()[0] if error.strip() else ""
        with self._lock:
            self._pending.pop(container_id, None)
            self._outcomes[container_id] = Outcome(verb, line, self.clock())

    def pending(self, container_id: str) -> str | None:
        """The verb under way for the container, or None."""
        with self._lock:
            return self._pending.get(container_id)

    def outcome(self, container_id: str) -> Outcome | None:
        """How its last action ended, while that is recent enough to show."""
        with self._lock:
            done = self._outcomes.get(container_id)
            if done is not None and self.clock() - done.at > self.keep:
                del self._outcomes[container_id]
                return None
            return done

    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending)


class Batch:
    """A bulk action under way: counts the results so that one summary is said when the last one ends."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.ok: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def done(self, name: str, error: str) -> bool:
        """Record one result; True when it was the last."""
        with self._lock:
            if error:
                self.failed.append((name, error.strip().splitlines()[0] if error.strip() else error))
            else:
                self.ok.append(name)
            return len(self.ok) + len(self.failed) == len(self.plan.apply)

    def summary(self) -> str:
        """``stop service shop/web: 2 ok, 1 failed (web-3: …); skipped web-4 (exited)``."""
        parts = [f"{len(self.ok)} ok"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed ({'; '.join(f'{n}: {e}' for n, e in self.failed)})")
        text = f"{self.plan.verb} {self.plan.scope}: {', '.join(parts)}"
        if self.plan.skipped:
            text += f"; skipped {self.plan.skipped_text()}"
        return text


def status_text(tracker: ActionTracker, container_id: str) -> str:
    """Markup for a status line: ``stopping…`` while the engine works, then how it ended; "" when nothing to say."""
    verb = tracker.pending(container_id)
    if verb is not None:
        return f"[b yellow]{PENDING.get(verb, verb)}…[/]"
    done = tracker.outcome(container_id)
    if done is None:
        return ""
    return f"[green]{done.verb}: done[/]" if done.ok else f"[b red]{done.verb} failed[/]: {done.error}"


def action_bindings(*, show_restart: bool) -> list[Binding]:
    """The container action keys, the same on the containers list and the detail screen."""
    return [
        Binding("r", "act('restart')", "Restart", show=show_restart),
        Binding("s", "act('stop')", "Stop", show=False),
        Binding("S", "act('start')", "Start", show=False),
        Binding("p", "pause", "Pause/unpause", show=False),
        Binding("k", "act('kill')", "Kill", show=False),
        Binding("d", "act('remove')", "Remove", show=False),
    ]
