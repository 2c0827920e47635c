"""The TUI process's interpreter settings: the garbage collector's pauses kept short and rare, the
UI thread's hold on the interpreter shorter.

A full collection walks every tracked object. The TUI holds hundreds of thousands of them (a
log history of up to 100,000 records; Textual's strips, seven small caches each), and with the
interpreter's default thresholds a busy log pane brought a full collection every few seconds,
each a 100-200 ms stop of the whole process: a key press or an open landing on one waited
for it.

The UI thread shares the interpreter lock with the core's threads (a log reader, the stats
sampler). While the UI renders, a reader that gave the lock up for a file read waits for the
switch interval to get it back: at the default 5 ms, the dozen reads and opens of a logs pane
opening took 50-130 ms of waiting. ``observe tui`` (and the bench, which measures what it runs)
calls ``tune_process`` once, before the app runs.
"""

from __future__ import annotations

import sys

from observe.runtime import quiet_collector

YOUNG = 700
"""Net allocations between two young collections: the default, so that each stays short for the UI."""
SWITCH_INTERVAL = 0.001
"""Seconds a thread holds the interpreter lock while another waits for it (the default: 0.005)."""


def tune_process() -> None:
    """Move what start-up made (modules, classes, the core) out of the collector's walks; full
    collections ten times rarer; the interpreter lock handed over five times sooner.

    Cyclic garbage is still found, later: a closed screen's widgets (a reference cycle) go at
    the next full collection; its log history, the bulk of it, is dropped when it unmounts
    (``LogsPane.on_unmount``), by reference counts.
    """
    quiet_collector(young=YOUNG)
    sys.setswitchinterval(SWITCH_INTERVAL)
