"""``observe tui``: the live debugging TUI over the core.

Textual and the TUI face are imported inside the handler, so that ``import observe.cli``
never loads them for other commands.
"""

from __future__ import annotations

import argparse
import logging

from observe.cli.common import command
from observe.config import Config
from observe.core import build_core


def _tui_args(p: argparse.ArgumentParser) -> None:
    """No options of its own: --read-only (OBSERVE_READ_ONLY), the selection and --interval are common options."""


@command("tui", "live debugging TUI: containers, logs, stats, inspect, processes, events, exec and actions")(_tui_args)
def cmd_tui(args: argparse.Namespace, config: Config) -> int:
    from tui.app import NotifyHandler, make_app
    from tui.runtime import tune_process

    core = build_core(config)
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        core.start_sampler()
        app = make_app(core)
        root.handlers = [NotifyHandler(app)]  # stderr is the TUI's screen while it runs
        tune_process()
        app.run()
    finally:
        root.handlers = saved
        core.stop()
    return app.return_code or 0  # 1 when the app died of an exception: never a crash with status 0
