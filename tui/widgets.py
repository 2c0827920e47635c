"""Small shared widgets."""

from __future__ import annotations

from textual.widgets import Static

from tui.coreview import InventoryView


class EngineBanner(Static):
    """A red line saying the engine is unreachable and being reconnected; hidden while all is well.

    It reads the inventory's link state once a second, so it needs no message of its own.

    Args:
        inventory: the core's inventory (its ``connected`` and ``last_error``).
    """

    DEFAULT_CSS = """
    EngineBanner { display: none; height: auto; background: $error; color: $text; padding: 0 1; text-style: bold; }
    EngineBanner.down { display: block; }
    """

    def __init__(self, inventory: InventoryView) -> None:
        super().__init__()
        self.inventory = inventory

    def on_mount(self) -> None:
        self.check()
        self.set_interval(1.0, self.check)

    def check(self) -> None:
        connected, error = bool(self.inventory.connected), str(self.inventory.last_error)
        self.set_class(not connected, "down")
        if not connected:
            self.update(f"⚠ Docker engine unreachable: {error or 'connection lost'} — reconnecting… "
                        "(the data shown is from before)")
