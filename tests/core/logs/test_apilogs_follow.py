"""A viewer's stream under the faults it meets: a crash-looping container, an engine outage, a removal.

The core's ``follow_logs`` reads a local json-file log from its file and any other through the API:
both are run here (``reader``).
"""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import pytest

from observe.config import Config
from observe.core import Core, build_core
from observe.engine import Engine
from observe.engine.inspect import from_inspect
from observe.logs.apilogs import ApiLogReader
from observe.logs.follow import choose_reader
from observe.model import LogLine, Record, StreamState
from tests.conftest import Containers
from tests.support.engineproxy import EngineProxy
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine
WATCH = 6.0
READERS = ["auto", "api"]  # auto: the json-file log, read from its file


def assert_reads_with(core: Core, container_id: str, reader: str) -> None:
    """The test reads the way it says: ``auto`` picks the file of a local json-file log."""
    info = from_inspect(core.engine.inspect(container_id), core.engine.info())
    assert choose_reader(core.engine, info, reader) == ("json-file" if reader == "auto" else "api")


@pytest.mark.parametrize("persistent", [False, True], ids=["collector", "viewer"])
def test_a_crash_looper_is_not_reopened_in_a_tight_loop(containers: Containers, persistent: bool) -> None:
    looper = containers.run("looper", "echo boom; exit 1", restart_policy={"Name": "always"})
    engine = Engine(Config())
    reader = ApiLogReader(engine, looper.id, follow=True, tail=0, persistent=persistent, stall_timeout=10)
    lines: list[LogLine] = []
    cpu: list[float] = []

    def read() -> None:
        start = time.thread_time()
        try:
            for batch in reader.batches():
                lines.extend(batch)
        finally:
            cpu.append(time.thread_time() - start)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(WATCH)  # proving how little happens over a while: a sleep is the measure
    reader.close()
    thread.join(10)
    looper.remove(force=True)
    engine.close()
    assert not thread.is_alive()
    # A tight loop reopened hundreds of times in six seconds, at most of a core.
    assert reader.reopens < 30, f"{reader.reopens} reopens in {WATCH:.0f}s"
    assert cpu and cpu[0] < 0.05 * WATCH, f"the reader used {cpu[0]:.2f}s of CPU in {WATCH:.0f}s"
    if persistent:
        assert len(lines) >= 2, "the viewer's stream follows the container across its restarts"


# docker-py's unix connection leaks its socket when connect() fails (it never closes it), once per
# attempt while the engine is away: collected here, inside this test, and not counted against us.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("reader", READERS)
def test_a_followed_stream_resumes_after_an_engine_outage(containers: Containers, tmp_path: Path,
                                                          reader: str) -> None:
    counter = containers.run("counter", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done")
    proxy = EngineProxy(tmp_path / "engine.sock")
    proxy.up()
    core = build_core(Config(docker_host=proxy.address, reader=reader))
    assert_reads_with(core, counter.id, reader)
    records: list[Record] = []
    states: list[StreamState] = []
    lock = threading.Lock()

    def on_records(batch: list[Record]) -> None:
        with lock:
            records.extend(batch)

    stop = core.follow_logs(counter.id, on_records, tail=5, on_state=states.append)
    try:
        wait_for(lambda: len(records) >= 10, "the first lines")
        proxy.down()
        wait_for(lambda: any(s.kind == "retrying" for s in states), "the stream to report that it retries")
        seen = len(records)
        time.sleep(1.0)  # the container keeps logging while the engine is out of reach
        proxy.up()
        wait_for(lambda: states[-1].kind == "following" and len(records) > seen + 30,
                 "lines again after the engine came back")
        with lock:
            numbers = [int(r.doc["message"]) for r in records]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "nothing lost, nothing repeated"
    finally:
        stop()
        proxy.down()
        core.engine.close()
        gc.collect()


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("after", [0.1, 0.3, 0.5])
def test_a_followed_container_removed_ends_the_stream_as_removed(containers: Containers, after: float,
                                                                 reader: str) -> None:
    # Removed while followed, the engine may refuse the reopen ("dead or marked for removal"): that is the
    # container's end, not an error; and the refused response's socket is released (warnings are errors).
    c = containers.run("removed", "while true; do echo line; usleep 20000; done")
    core = build_core(Config(reader=reader))
    assert_reads_with(core, c.id, reader)
    states: list[StreamState] = []
    got: list[Record] = []
    try:
        stop = core.follow_logs(c.id, got.extend, tail=5, on_state=states.append)
        wait_for(lambda: len(got) > 5, "lines followed")
        time.sleep(after)  # the moment of the removal is what varies
        c.remove(force=True)
        wait_for(lambda: states and states[-1].kind in ("ended", "error"), "the stream's end")
        stop()
        assert states[-1] == StreamState("ended", "the container was removed"), states
    finally:
        core.stop()
    gc.collect()


def test_a_file_viewer_takes_the_tail_waits_while_stopped_and_follows_the_restart(containers: Containers) -> None:
    c = containers.run("restarts", "for i in 1 2 3 4; do echo line$i; done; sleep 60")
    wait_for(lambda: c.logs().count(b"\n") >= 4, "the container's first lines")
    core = build_core(Config())
    assert_reads_with(core, c.id, "auto")
    records: list[Record] = []
    states: list[StreamState] = []
    stop = core.follow_logs(c.id, records.extend, tail=2, on_state=states.append)
    try:
        wait_for(lambda: len(records) >= 2, "the tail")
        c.stop(timeout=0)
        wait_for(lambda: states and states[-1] == StreamState("waiting", "the container is not running"),
                 "the stream to say the container is not running")
        c.start()
        wait_for(lambda: len(records) >= 6 and states[-1].kind == "following", "the restart's lines")
        assert [r.doc["message"] for r in records] == ["line3", "line4", "line1", "line2", "line3", "line4"]
    finally:
        stop()
        core.stop()


def test_a_crash_looper_read_from_its_file_costs_almost_nothing(containers: Containers) -> None:
    looper = containers.run("filelooper", "echo boom; exit 1", restart_policy={"Name": "always"})
    core = build_core(Config())
    assert_reads_with(core, looper.id, "auto")
    records: list[Record] = []
    stop = core.follow_logs(looper.id, records.extend, tail=0)
    try:
        start = time.process_time()
        time.sleep(WATCH)  # proving how little happens over a while: a sleep is the measure
        used = time.process_time() - start
    finally:
        stop()
        core.stop()
    assert used < 0.05 * WATCH, f"{used:.2f}s of CPU in {WATCH:.0f}s"
    assert len(records) >= 2, "the stream follows the container across its restarts"
