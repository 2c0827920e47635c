"""``CoreView``: everything the TUI may touch of the core, as Protocols.

``observe.core.Core`` satisfies it as it is; snapshot tests pass a small fake of this seam
(not of docker-py). Types that would load docker-py are imported for the type checker only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from observe.config import Config
from observe.model import ContainerEvent, ContainerInfo, Record, StreamState
from observe.stats.snapshot import StatsSnapshot
from tui.terminal import ExecSession

if TYPE_CHECKING:
    from observe.inventory import InventoryChange


class InventoryView(Protocol):
    """The live container set (``observe.inventory.Inventory``)."""

    @property
    def connected(self) -> bool: ...

    @property
    def last_error(self) -> str: ...

    def containers(self, include_stopped: bool = True) -> list[ContainerInfo]: ...

    def get(self, ref: str) -> ContainerInfo | None: ...

    def subscribe(self, listener: Callable[[InventoryChange], None]) -> Callable[[], None]: ...

    def subscribe_events(self, listener: Callable[[ContainerEvent], None]) -> Callable[[], None]: ...

    def recent_events(self, container_id: str | None = None) -> list[ContainerEvent]: ...


class SamplerView(Protocol):
    """The stats sampler (``observe.stats.sampler.StatsSampler``)."""

    def snapshot(self) -> StatsSnapshot: ...


class CoreView(Protocol):
    """What the TUI reads and calls. Calls may block on the engine: the TUI makes them in workers."""

    @property
    def config(self) -> Config: ...

    @property
    def inventory(self) -> InventoryView: ...

    @property
    def sampler(self) -> SamplerView: ...

    def inspect(self, ref: str) -> Mapping[str, Any]: ...

    def past_events(self, container_id: str, since: float, until: float | None = None) -> list[ContainerEvent]: ...

    def top(self, container_id: str) -> tuple[list[str], list[list[str]]]: ...

    def action(self, container_id: str, verb: str) -> None: ...

    def run_command(self, container_id: str, argv: Sequence[str]) -> tuple[int, str]: ...

    def shell_command(self, container_id: str) -> list[str]: ...

    def open_exec(self, container_id: str, argv: Sequence[str]) -> ExecSession: ...

    def follow_logs(self, container_id: str, on_records: Callable[[list[Record]], None],
                    tail: int = 500, on_state: Callable[[StreamState], None] | None = None) -> Callable[[], None]: ...
