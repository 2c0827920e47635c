"""Requests the screens and panes post up to the app: what to do to a container.

Widgets never call into the app; they post one of these and the app (the only owner of
modals, workers for actions and the terminal for exec) handles it.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message


class ContainerRequest(Message):
    """Something to do with one container (the base of the requests below)."""

    def __init__(self, container_id: str) -> None:
        super().__init__()
        self.container_id = container_id


class OpenDetail(ContainerRequest):
    """Open the container's detail screen on ``tab``."""

    def __init__(self, container_id: str, tab: str = "logs") -> None:
        super().__init__(container_id)
        self.tab = tab


class OpenServiceLogs(ContainerRequest):
    """Open the merged logs of every replica of the container's service."""


class ExecShell(ContainerRequest):
    """Suspend the TUI and run a shell (or ``argv``) in the container with a terminal."""

    def __init__(self, container_id: str, argv: Sequence[str] | None = None) -> None:
        super().__init__(container_id)
        self.argv = list(argv) if argv else None


class ExecPrompt(ContainerRequest):
    """Ask for a command line, then run it interactively with a terminal."""


class RunPrompt(ContainerRequest):
    """Ask for a command line, then run it without a terminal and show its output."""


class ActOn(ContainerRequest):
    """Apply an engine action (``start``, ``stop``, ``restart``, ...) after asking."""

    def __init__(self, container_id: str, verb: str) -> None:
        super().__init__(container_id)
        self.verb = verb


class ActOnMany(Message):
    """Apply an engine action to several containers (the marked ones, or a service's replicas) after asking.

    ``scope`` names the choice in the confirmation (``3 marked containers``, ``service shop/web``).
    """

    def __init__(self, container_ids: Sequence[str], verb: str, scope: str) -> None:
        super().__init__()
        self.container_ids = tuple(container_ids)
        self.verb = verb
        self.scope = scope


class ActionChanged(ContainerRequest):
    """Sent down by the app to its screens: an action on the container began or ended (see ``ActionTracker``)."""
