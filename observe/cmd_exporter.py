"""``observe exporter``: the inventory, the stats sampler and the Prometheus endpoint, until SIGTERM or Ctrl-C.

The exporter face (and prometheus_client) is imported inside the handler, so that the core's
CLI never loads it for other commands.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from types import FrameType

from observe.cli import command
from observe.config import Config
from observe.core import build_core


def _exporter_args(p: argparse.ArgumentParser) -> None:
    """No options of its own: --listen, --interval, --label-allowlist and --web-* are common options."""


@command("exporter", "serve Prometheus metrics of the selected containers on --listen until SIGTERM/Ctrl-C")(
    _exporter_args)
def cmd_exporter(args: argparse.Namespace, config: Config) -> int:
    from exporters import start_exporter

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    core = build_core(config)
    server = None
    try:
        server = start_exporter(core)
        with contextlib.suppress(KeyboardInterrupt):
            while not done.wait(0.5):
                pass
    finally:
        if server is not None:
            server.stop()
        core.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0
