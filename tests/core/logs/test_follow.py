"""The one follow module as the TUI reads it: ``Core.follow_logs`` against real containers."""

from __future__ import annotations

import threading

import pytest

from observe.config import Config
from observe.core import build_core
from observe.model import Record
from tests.conftest import Containers
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine


def test_core_follow_logs_reads_to_the_end_and_stops_on_request(containers: Containers) -> None:
    c = containers.run("tui-follow", 'echo "a"; echo "b" >&2; sleep 1; printf "c, no newline"')
    core = build_core(Config())
    got: list[str] = []
    lock = threading.Lock()

    def on_records(records: list[Record]) -> None:
        with lock:
            got.extend(str(r.doc["message"]) for r in records)

    try:
        stop = core.follow_logs(c.id, on_records, tail=500)
        wait_for(lambda: "c, no newline" in got, "the last line, written without a newline")
        assert sorted(got) == ["a", "b", "c, no newline"]
        stop()
        c2 = containers.run("tui-stopped", 'echo "x"; echo "y"')
        c2.wait()
        seen: list[str] = []
        stop2 = core.follow_logs(c2.id, lambda records: seen.extend(str(r.doc["message"]) for r in records), tail=1)
        wait_for(lambda: seen == ["y"], "the last line of a stopped container (tail 1)")
        stop2()
    finally:
        core.stop()
