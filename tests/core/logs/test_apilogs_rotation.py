"""The API reader behind a rotating log: the engine's follow stream skips whole files there.

dockerd 20.10's follow stream opens the log's current file by name at a rotation; a stream more
than a file behind the writer skips the files between (about 13,000 lines of a 1 MB json-file
log at once). The reader leaves the stream when it trails and catches up without follow.
"""

from __future__ import annotations

import time

import pytest

from observe.config import Config
from observe.engine import Engine
from observe.engine.inspect import log_rotates
from observe.logs.apilogs import ApiLogReader
from tests.conftest import Containers

pytestmark = pytest.mark.engine

BURSTS = 30
WRITER = (f"i=0; while [ $i -lt {BURSTS} ]; do seq $((i*2000)) $((i*2000+1999)); i=$((i+1)); usleep 200000; done; "
          "echo done; sleep 600")


def engine_inspect(container_id: str) -> dict[str, object]:
    engine = Engine(Config())
    try:
        return engine.inspect(container_id)
    finally:
        engine.close()


@pytest.mark.parametrize(("log_config", "rotates"), [
    ({"type": "json-file", "config": {}}, False),
    ({"type": "json-file", "config": {"max-size": "-1"}}, False),
    ({"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}, True),
    ({"type": "local", "config": {}}, True),  # 20 MB files by default
    ({"type": "none", "config": {}}, False),
])
def test_which_logs_rotate_is_read_from_the_inspect_document(containers: Containers, log_config: dict[str, object],
                                                             rotates: bool) -> None:
    container = containers.create("rotates", log_config=log_config)
    assert log_rotates(engine_inspect(container.id)) is rotates


def read_slowly(reader: ApiLogReader, per_100: float) -> list[str]:
    """Every line up to ``done``, at most 100 lines every ``per_100`` seconds (a busy collector)."""
    out: list[str] = []
    for batch in reader.batches():
        for line in batch:
            if line.text == "done":
                return out
            out.append(line.text)
            if len(out) % 100 == 0:
                time.sleep(per_100)
    return out


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_a_reader_behind_a_rotating_log_loses_and_repeats_nothing(containers: Containers, driver: str) -> None:
    container = containers.run(f"rot-{driver}", WRITER,
                               log_config={"type": driver, "config": {"max-size": "1m", "max-file": "5"}})
    engine = Engine(Config())
    try:
        rotates = log_rotates(engine.inspect(container.id))
        reader = ApiLogReader(engine, container.id, stall_timeout=2.0, rotates=rotates)
        lines = read_slowly(reader, 0.02)  # 5,000 lines/s against the writer's 10,000
        reader.close()
    finally:
        engine.close()
    assert lines == [str(n) for n in range(BURSTS * 2000)]
    assert reader.catch_ups >= 1, "the reader trailed the log, so it caught up without follow"


class SkewedEngine(Engine):
    """An engine whose measured clock is wrong: every line looks seconds old."""

    def clock_offset_ns(self) -> int:
        return 3_000_000_000


def test_a_wrong_clock_offset_costs_a_few_reads_and_loses_nothing(containers: Containers) -> None:
    container = containers.run("skewed", "i=0; while [ $i -lt 60 ]; do echo $i; i=$((i+1)); usleep 50000; done; "
                                         "echo done; sleep 600")
    engine = SkewedEngine(Config())
    try:
        reader = ApiLogReader(engine, container.id, stall_timeout=2.0)
        lines = read_slowly(reader, 0)
        reader.close()
    finally:
        engine.close()
    assert lines == [str(n) for n in range(60)]
    assert reader.catch_ups <= 12, f"{reader.catch_ups} reads without follow for 60 lines in 3 s"


def test_a_reader_behind_a_log_that_never_rotates_stays_on_its_stream(containers: Containers) -> None:
    """Nothing to skip there, and a read without follow would make the engine scan the whole log again."""
    container = containers.run("no-rotation", WRITER)
    engine = Engine(Config())
    try:
        rotates = log_rotates(engine.inspect(container.id))
        reader = ApiLogReader(engine, container.id, stall_timeout=2.0, rotates=rotates)
        lines = read_slowly(reader, 0.02)
        reader.close()
    finally:
        engine.close()
    assert lines == [str(n) for n in range(BURSTS * 2000)]
    assert reader.catch_ups == 0
