"""Short-lived containers end to end: every container that runs while ``observe run`` watches is read to its end.

Through both readers, with exact counts: N lines in, each represented exactly once at the sink.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine

READERS = ["json-file", "api"]


def _lost_names(collector: CollectorProcess) -> list[str]:
    names = []
    for line in collector.stderr().splitlines():
        if '"LogLinesLost"' in line:
            names.append(json.loads(line).get("container", ""))
    return names


@pytest.fixture(params=READERS)
def collector(request: pytest.FixtureRequest, tmp_path: Path, containers: Containers) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(tmp_path, containers.test_id, reader=request.param)
    yield proc
    proc.close()


def _one_shots(collector: CollectorProcess, containers: Containers, prefix: str) -> Counter[str]:
    """Messages at the sink from containers named ``prefix*``, counted."""
    base = containers.name(prefix)
    return Counter(r["message"] for r in collector.records() if str(r.get("container.name", "")).startswith(base))


@pytest.mark.slow
def test_hundred_one_line_containers_each_collected_once(collector: CollectorProcess,
                                                         containers: Containers) -> None:
    """Started back to back, most are created, run and gone between two looks of the inventory."""
    total = 100
    collector.start()
    collector.wait_ready()
    for i in range(total):
        containers.run(f"once{i}", ["echo", f"one-shot {i}"])
    expected = Counter({f"one-shot {i}": 1 for i in range(total)})
    try:
        wait_for(lambda: sum(_one_shots(collector, containers, "once").values()) >= total,
                 f"{total} one-line containers collected", timeout=90, interval=0.5)
    except AssertionError as err:
        got = sum(_one_shots(collector, containers, "once").values())
        raise AssertionError(f"{err} (got {got} of {total})") from None
    assert collector.stop() == 0
    assert _one_shots(collector, containers, "once") == expected
    assert _lost_names(collector) == []


def test_containers_that_ran_while_the_collector_was_frozen(collector: CollectorProcess,
                                                            containers: Containers) -> None:
    """Exited before they were inspected: read to their end; removed before that: a LogLinesLost naming it."""
    collector.start()
    collector.wait_ready()
    collector.freeze()
    try:
        kept = containers.run("kept", 'echo "kept line 1"; echo "kept line 2" >&2; printf "kept line 3"')
        kept.wait()
        gone = containers.run("gone", 'echo "gone line"')
        gone.wait()
        gone.remove()
    finally:
        collector.thaw()
    wait_for(lambda: _one_shots(collector, containers, "kept")["kept line 3"] == 1,
             "the exited container read to its end")
    wait_for(lambda: containers.name("gone") in _lost_names(collector), "LogLinesLost naming the removed container")
    assert collector.stop() == 0
    assert _one_shots(collector, containers, "kept") == Counter(["kept line 1", "kept line 2", "kept line 3"])
    assert _lost_names(collector) == [containers.name("gone")]


def test_restart_reads_what_finished_while_down_and_nothing_twice(collector: CollectorProcess,
                                                                  containers: Containers) -> None:
    collector.start()
    collector.wait_ready()
    containers.run("before", 'echo "before 1"; echo "before 2"').wait()
    wait_for(lambda: _one_shots(collector, containers, "before")["before 2"] == 1, "the first container collected")
    assert collector.stop() == 0
    # Exits while observe is down; it must be read at the next start, from its first line.
    containers.run("while-down", 'echo "down 1"; echo "down 2"').wait()
    collector.start()
    wait_for(lambda: _one_shots(collector, containers, "while-down")["down 2"] == 1,
             "the container that ran while observe was down")
    assert collector.stop() == 0
    # A third start: both are finished and checkpointed; a new one-shot proves the collector ran.
    collector.start()
    collector.wait_ready()
    containers.run("after", 'echo "after 1"').wait()
    wait_for(lambda: _one_shots(collector, containers, "after")["after 1"] == 1, "a container after the restart")
    assert collector.stop() == 0
    everything = _one_shots(collector, containers, "")
    assert everything == Counter(["before 1", "before 2", "down 1", "down 2", "after 1"])


def test_final_line_without_newline(collector: CollectorProcess, containers: Containers) -> None:
    """dockerd's follow stream leaves out a last line with no newline; the reader takes it afterwards."""
    collector.start()
    collector.wait_ready()
    script = 'echo "first"; echo "err first" >&2; sleep 1; printf "err last, no newline" >&2; printf "last, no newline"'
    containers.run("no-newline", script).wait()
    wait_for(lambda: len(_one_shots(collector, containers, "no-newline")) == 4, "all four lines")
    assert collector.stop(signal.SIGTERM) == 0
    assert _one_shots(collector, containers, "no-newline") == Counter(
        ["first", "err first", "err last, no newline", "last, no newline"])
