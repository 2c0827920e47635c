"""The detail screen's tabs, one module each: logs, stats, inspect, processes, events.

A new pane is one module here (copy ``processes.py``, the smallest) plus one row in ``PANES``.
Each pane is built as ``Pane(core, container_id, name)`` and reads the core only through
``tui.coreview``.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget

from tui.coreview import CoreView
from tui.panes.events import EventsPane
from tui.panes.inspect import InspectPane
from tui.panes.logs import LogsPane
from tui.panes.processes import ProcessesPane
from tui.panes.stats import StatsPane

PANES: tuple[tuple[str, str, Callable[[CoreView, str, str], Widget]], ...] = (
    ("logs", "Logs", LogsPane),
    ("stats", "Stats", StatsPane),
    ("inspect", "Inspect", InspectPane),
    ("processes", "Processes", ProcessesPane),
    ("events", "Events", EventsPane),
)
"""(tab id, title, pane class called with the core, the container id and its name), in tab order."""
TABS = tuple(tab for tab, _, _ in PANES)

__all__ = ["PANES", "TABS", "EventsPane", "InspectPane", "LogsPane", "ProcessesPane", "StatsPane"]
