"""A stop asked for while the process is still starting: kept, never lost nor fatal.

``python -m observe`` calls ``defer`` first thing, before the heavy imports, so that a SIGTERM
arriving during start-up (systemd or a supervisor stopping a collector that has just been
started) is noted instead of killing the process mid-way. A command that waits for SIGTERM
(``observe run``, ``observe exporter``) sees the note through ``observe.cli.common.stop_signal``
and stops cleanly at once, with status 0; every other command calls ``release`` and dies of
the signal as usual.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

REQUESTED = threading.Event()
"""Set by a SIGTERM that arrived before a command took the signal over."""


def _note(signum: int, frame: FrameType | None) -> None:
    REQUESTED.set()


def defer() -> None:
    """From now on SIGTERM only sets ``REQUESTED`` (until a command installs its own handler)."""
    signal.signal(signal.SIGTERM, _note)


def release() -> None:
    """SIGTERM's default action again, taken now if one already came."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if REQUESTED.is_set():
        os.kill(os.getpid(), signal.SIGTERM)
