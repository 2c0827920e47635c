"""The interpreter's garbage collector, set for a process that moves many short-lived objects.

The log path makes a handful of tuples and dicts per line (a raw line, its position, a record,
its document) that live for one batch: thousands at a time, none in a reference cycle. With the
interpreter's default thresholds (a young collection every 700 net allocations, a full one every
100 young ones, or sooner when many objects survived), every batch set off young collections
that moved the batch into the older generations and, from there, full collections that walked
every object of the process again: measured on the corpus, 12-19 % of the log path's CPU went
to collections that found nothing.

``quiet_collector`` moves what start-up made (modules, classes, the core) out of the
collector's walks and makes collections rarer. Cyclic garbage is still found: later, and it
is small (an exception's traceback, a closed connection's objects).
"""

from __future__ import annotations

import gc

YOUNG = 50_000
"""Net allocations of tracked objects between two young collections (the default: 700). More than
the batches a worker holds at once make (a 64 KiB read is about 200 lines, a few objects each), so
a batch dies young."""
FULL_AFTER = 100
"""Collections of the middle generation between two full ones (the default: 10)."""


def quiet_collector(young: int = YOUNG) -> None:
    """Freeze start-up's objects out of the collector's walks; young collections after ``young``
    net allocations, full collections ten times rarer than the default."""
    gc.collect()
    gc.freeze()
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)
