"""What every command module shares: the command registry, JSON and table output, the stop helpers.

Command modules register their handler with ``@command``; ``observe.cli`` imports them from an
explicit list, so the registry is complete before the parser is built.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from observe import termination
from observe.config import Config

Handler = Callable[[argparse.Namespace, Config], int]
ArgsAdder = Callable[[argparse.ArgumentParser], None]
COMMANDS: dict[str, tuple[str, ArgsAdder, Handler]] = {}
STOPPABLE: set[str] = set()
"""Commands that stop cleanly on SIGTERM (through ``stop_signal``), also one sent during start-up."""


def command(name: str, help: str, *, stoppable: bool = False  # noqa: A002 - argparse's word
            ) -> Callable[[ArgsAdder], Callable[[Handler], Handler]]:
    """Register a subcommand: a function adding its arguments, then its handler.

    ``stoppable``: the command waits for SIGTERM through ``stop_signal`` (see ``observe.termination``).
    """

    def with_args(add_args: ArgsAdder) -> Callable[[Handler], Handler]:
        def with_handler(handler: Handler) -> Handler:
            COMMANDS[name] = (help, add_args, handler)
            if stoppable:
                STOPPABLE.add(name)
            return handler

        return with_handler

    return with_args


@contextlib.contextmanager
def stop_signal() -> Iterator[threading.Event]:
    """An event set by SIGTERM (and Ctrl-C), for the long-running commands' main loops.

    Already set when a SIGTERM came during start-up (``observe.termination``).
    """
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: done.set())
    if termination.REQUESTED.is_set():
        done.set()
    try:
        yield done
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_for_stop(done: threading.Event, give_up: Callable[[], bool] = lambda: False) -> None:
    """Block until SIGTERM, Ctrl-C or ``give_up()`` says so (checked twice a second)."""
    with contextlib.suppress(KeyboardInterrupt):
        while not done.wait(0.5) and not give_up():
            pass


def now_utc() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any, pretty: bool = False) -> str:
    return json.dumps(value, indent=2 if pretty else None, default=str, ensure_ascii=False)


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns two spaces apart, for people (``--format json`` is for scripts)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)
