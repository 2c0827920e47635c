"""Small shared widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Static

if TYPE_CHECKING:
    from tui.app import ObserveApp


class EngineBanner(Static):
    """A red line saying the engine is unreachable and being reconnected; hidden while all is well.

    It reads the app's ``engine_state`` once a second, so it needs no message of its own.
    """

    DEFAULT_CSS = """
    EngineBanner { display: none; height: auto; background: $error; color: $text; padding: 0 1; text-style: bold; }
    EngineBanner.down { display: block; }
    """

    def on_mount(self) -> None:
        self.check()
        self.set_interval(1.0, self.check)

    def check(self) -> None:
        app: ObserveApp = self.app  # type: ignore[assignment]
        connected, error = app.engine_state()
        self.set_class(not connected, "down")
        if not connected:
            self.update(f"⚠ Docker engine unreachable: {error or 'connection lost'} — reconnecting… "
                        "(the data shown is from before)")
