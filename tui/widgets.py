"""Small shared widgets."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget
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


class KeyHints(Widget, can_focus=False):
    """The screen's shown key bindings on one line, as Textual's ``Footer`` shows them, drawn as one text.

    ``Footer`` makes a widget per binding and makes them all again whenever the bindings change (each focus
    change): on a detail screen that was most of the time from opening it to its first paint, with the core's
    threads in the same process. Here a change of bindings re-renders one line, and only if its text changed.
    A click on a key presses it, as on the footer.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-hints--key", "key-hints--description"}
    DEFAULT_CSS = """
    KeyHints {
        dock: bottom; height: 1; width: 1fr; color: $footer-foreground; background: $footer-background;
        text-wrap: nowrap; overflow: hidden hidden;
    }
    KeyHints > .key-hints--key {
        color: $footer-key-foreground; background: $footer-key-background; text-style: bold;
    }
    KeyHints > .key-hints--description {
        color: $footer-description-foreground; background: $footer-description-background;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._text = Text()
        self._spans: list[tuple[int, int, str]] = []  # (first cell, end cell, key) of each hint

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        hints: dict[str, tuple[str, str, str, bool]] = {}  # one hint per action, its first binding
        for _, binding, enabled, _tooltip in screen.active_bindings.values():
            if binding.show and binding.action not in hints:
                hints[binding.action] = (binding.key, self.app.get_key_display(binding), binding.description,
                                         enabled)
        palette = screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if self.app.ENABLE_COMMAND_PALETTE and palette is not None and palette[1].action not in hints:
            binding = palette[1]
            hints[binding.action] = (binding.key, self.app.get_key_display(binding), binding.description, palette[2])
        key_style = self.get_component_rich_style("key-hints--key")
        text_style = self.get_component_rich_style("key-hints--description")
        text = Text(no_wrap=True, overflow="crop")
        spans = []
        for key, shown, description, enabled in hints.values():
            start = text.cell_len
            dim = Style(dim=not enabled)
            text.append(f" {shown} ", key_style + dim)
            text.append(f"{description} " if description else "", text_style + dim)
            spans.append((start, text.cell_len, key))
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text, self._spans = text, spans
            self.refresh()

    def render(self) -> Text:
        return self._text

    def hints(self) -> list[str]:
        """The keys shown, in order (for tests)."""
        return [key for _, _, key in self._spans]

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
