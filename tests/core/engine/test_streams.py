"""Streams closed from another thread leave the client's connection pool healthy.

A busy container's follow stream, closed while its reader is mid-read, used to put its
connection back into the pool with a socket whose descriptor was -1; about one request in
ten after that failed with ``ValueError: file descriptor cannot be a negative integer``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from observe.config import Config
from observe.engine import Engine
from tests.conftest import Containers

pytestmark = pytest.mark.engine
ROUNDS = 40
BUSY = "i=0; while true; do i=$((i+1)); echo line $i; done"


def close_mid_read(open_stream: Callable[[], Any], after: Callable[[], object], rounds: int = ROUNDS) -> list[str]:
    """Open, read in a thread, close from here once data flows, then make another request; the failures."""
    failures: list[str] = []
    for n in range(rounds):
        stream = open_stream()
        started = threading.Event()

        def read(items: Iterable[object] = stream, started: threading.Event = started) -> None:
            for _ in items:
                started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        started.wait(5)
        time.sleep(0.005 * (n % 5))  # vary where in a read the close lands
        stream.close()
        reader.join(5)
        assert not reader.is_alive(), "a closed stream's reader never returned"
        try:
            after()
        except Exception as err:
            failures.append(f"round {n}: {type(err).__name__}: {err}")
    return failures


def test_log_streams_closed_mid_read_leave_the_pool_usable(containers: Containers) -> None:
    busy = containers.run("busy", BUSY)
    engine = Engine(Config())
    try:
        failures = close_mid_read(lambda: engine.log_stream(busy.id, follow=True, tail=10, read_timeout=10),
                                  lambda: engine.inspect(busy.id))
        assert not failures, "\n".join(failures)
    finally:
        engine.close()


def test_stats_streams_closed_mid_read_leave_the_pool_usable(containers: Containers) -> None:
    busy = containers.run("busy", BUSY)
    engine = Engine(Config())
    try:
        # A stats document comes once a second: fewer rounds, the same race.
        failures = close_mid_read(lambda: engine.stats_stream(busy.id), lambda: engine.inspect(busy.id), rounds=6)
        assert not failures, "\n".join(failures)
    finally:
        engine.close()
