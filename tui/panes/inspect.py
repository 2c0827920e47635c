"""The Inspect tab: the inspect document as a searchable tree, secrets masked until ``m``."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Tree
from textual.widgets.tree import TreeNode

from observe.errors import ObserveError
from tui.coreview import CoreView
from tui.inspectmodel import env_rows, label_rows, masked_document, matching_paths, mount_rows, port_rows


class InspectPane(Vertical):
    """The inspect document as a searchable tree, with environment, ports, mounts and labels as tables."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "reveal", "Show secrets"),
        Binding("slash", "search", "Search"),
    ]
    DEFAULT_CSS = """
    InspectPane #inspect-search { display: none; }
    InspectPane #inspect-search.shown { display: block; }
    InspectPane Horizontal { height: 1fr; }
    InspectPane Tree { width: 1fr; }
    InspectPane VerticalScroll { width: 1fr; }
    InspectPane DataTable { height: auto; max-height: 16; margin-bottom: 1; }
    InspectPane .title { text-style: bold; }
    """

    def __init__(self, core: CoreView, container_id: str, name: str = "") -> None:
        super().__init__(id="inspect-pane")
        self.core = core
        self.container_id = container_id
        self.doc: dict[str, Any] = {}
        self.reveal = False
        self.search = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search paths and values", id="inspect-search")
        with Horizontal():
            yield Tree("inspect", id="inspect-tree")
            with VerticalScroll():
                for key, title in (("env", "Environment"), ("ports", "Ports"), ("mounts", "Mounts"),
                                   ("labels", "Labels")):
                    yield Label(title, classes="title")
                    yield DataTable(id=f"table-{key}", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.run_worker(self._fetch, thread=True, name="inspect", group="inspect", exclusive=True)

    def _fetch(self) -> None:
        try:
            doc = dict(self.core.inspect(self.container_id))
        except ObserveError as err:
            self.app.call_from_thread(self.app.notify, str(err), severity="error")
            return
        self.app.call_from_thread(self.show, doc)

    def show(self, doc: dict[str, Any]) -> None:
        """Draw ``doc`` (secrets masked unless revealed)."""
        self.doc = doc
        self._draw()

    def _draw(self) -> None:
        shown = masked_document(self.doc, self.reveal)
        tree: Tree[str] = self.query_one("#inspect-tree", Tree)
        tree.clear()
        tree.root.label = Text(f"{self.doc.get('Name', '').lstrip('/')} {self.doc.get('Id', '')}")
        matches = set(matching_paths(shown, self.search)) if self.search else set()
        self._add(tree.root, shown, "", matches)
        tree.root.expand()
        tables: dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]] = {
            "env": (("NAME", "VALUE"), list(env_rows(self.doc, self.reveal))),
            "ports": (("PORT", "PUBLISHED"), list(port_rows(self.doc))),
            "mounts": (("TYPE", "SOURCE", "DESTINATION", "MODE"), list(mount_rows(self.doc))),
            "labels": (("LABEL", "VALUE"), list(label_rows(self.doc, self.reveal))),
        }
        for key, (headers, rows) in tables.items():
            table = self.query_one(f"#table-{key}", DataTable)
            table.clear(columns=True)
            table.add_columns(*headers)
            for row in rows or [tuple("-" for _ in headers)]:
                table.add_row(*row)

    def _add(self, node: TreeNode[str], value: Any, path: str, matches: set[str]) -> bool:
        """Add ``value``'s children under ``node``; True if a search match is inside (then it is expanded)."""
        found = False
        items: list[tuple[str, Any, str]]
        if isinstance(value, dict):
            items = [(str(k), v, f"{path}.{k}" if path else str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"[{i}]", v, f"{path}[{i}]") for i, v in enumerate(value)]
        else:
            return False
        for label, child, child_path in items:
            hit = any(m == child_path or m.startswith(child_path + ".") or m.startswith(child_path + "[")
                      for m in matches)
            if isinstance(child, dict | list) and child:
                branch = node.add(Text(label, style="bold yellow" if child_path in matches else ""), data=child_path)
                inner = self._add(branch, child, child_path, matches)
                if inner or (not matches and path == "" and label in ("State", "Config")):
                    branch.expand()
                found = found or inner or child_path in matches
            else:
                text = Text(f"{label}: ", style="bold")
                text.append(json.dumps(child, ensure_ascii=False, default=str))  # JSON, as docker inspect shows
                if child_path in matches:
                    text.stylize("black on yellow")
                node.add_leaf(text, data=child_path)
                found = found or hit
        return found

    def action_reveal(self) -> None:
        self.reveal = not self.reveal
        self.notify("secrets shown" if self.reveal else "secrets masked")
        self._draw()

    def action_search(self) -> None:
        box = self.query_one("#inspect-search", Input)
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search = event.value
        self._draw()
        count = len(matching_paths(masked_document(self.doc, self.reveal), self.search)) if self.search else 0
        if self.search:
            self.notify(f"{count} match{'es' if count != 1 else ''} for “{self.search}”")
        self.query_one("#inspect-tree", Tree).focus()

    def close_inputs(self) -> bool:
        """Hide the search box if it is open; True if it was."""
        for box in self.query("#inspect-search").results(Input):
            if box.has_class("shown"):
                box.remove_class("shown")
                self.query_one("#inspect-tree", Tree).focus()
                return True
        return False


