"""``observe run`` on a big json-file backlog, read by two processes: the records one process delivers.

The differential test: the generated log of the ``observe logs`` parallel test (JSON lines,
Python/Java/Go traces, partial and corrupt lines on both streams) followed by ``Follow`` as the
collector follows it, with a second reader for the backlog cut at several places, against the
same log read by one process; the bytes, the order and the last checkpoint position must agree.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from observe.config import Config
from observe.engine import Engine
from observe.logs import backlog
from observe.logs.follow import Follow, FollowOptions
from observe.logs.formats import render_batch
from observe.logs.normalise import NormaliseOptions
from observe.logs.sinks.base import Encoding
from observe.model import ContainerInfo, LogPosition, Record
from tests.core.cli.test_logs_parallel import write_log
from tests.support.logsamples import make_container

ENC = Encoding("logstash")


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ContainerInfo]:
    path = tmp_path_factory.mktemp("backlog") / "c-json.log"
    write_log(path, 12_000, seed=21)
    return path, replace(make_container(), log_path=str(path))


def _follow(c: ContainerInfo, split_bytes: int, share: float = backlog.SHARE) -> tuple[bytes, LogPosition | None,
                                                                                       dict[str, int], int]:
    """(what a collector's sink gets, the follow's last position, its counters, chunks) once the log is read."""
    out = bytearray()
    lock = threading.Lock()
    chunks = [0]

    def on_records(_f: Follow, records: list[Record]) -> None:
        with lock:
            out.extend(render_batch([r.doc for r in records], ENC.fmt))

    def on_chunk(_f: Follow, chunk: backlog.Chunk) -> None:
        with lock:
            out.extend(chunk.encoded[ENC][0])
            chunks[0] += 1

    saved = backlog.SHARE
    backlog.SHARE = share
    try:
        follow = Follow(Engine(Config()), c, NormaliseOptions(), on_records,
                        FollowOptions(reader="json-file", encodings=(ENC,), split_bytes=split_bytes),
                        on_chunk=on_chunk).start()
        size, still = -1, 0
        while still < 10:  # read to the end: the output stood still for a second
            time.sleep(0.1)
            with lock:
                still = still + 1 if len(out) == size else 0
                size = len(out)
        follow.stop()
        assert follow.done.wait(30)
    finally:
        backlog.SHARE = saved
    return bytes(out), follow.position, dict(follow.pipeline.counters), chunks[0]


@pytest.mark.parametrize("share", [0.2, 0.45, 0.7])
def test_a_split_backlog_delivers_what_one_process_delivers(big_log: tuple[Path, ContainerInfo],
                                                           share: float) -> None:
    path, c = big_log
    one, one_at, one_counters, none = _follow(c, 0)
    two, two_at, two_counters, chunks = _follow(c, 1024, share)
    assert none == 0 and chunks > 0  # the second reader did read, and handed back
    assert two.count(b"\n") == one.count(b"\n")
    assert two == one
    assert two_at == one_at and one_at is not None and one_at.offset == path.stat().st_size
    assert two_counters == one_counters


def test_no_split_below_the_threshold_or_without_encodings(big_log: tuple[Path, ContainerInfo]) -> None:
    path, _c = big_log
    size = path.stat().st_size
    assert backlog.plan(str(path), None, size + 1, (ENC,)) is None
    assert backlog.plan(str(path), None, 1024, ()) is None
    assert backlog.plan(str(path), None, 0, (ENC,)) is None
    found = backlog.plan(str(path), None, 1024, (ENC,))
    assert found is not None and 0 < found.child_at.offset < found.end == size
