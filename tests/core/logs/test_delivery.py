"""Delivery and checkpoints: the ordering and at-least-once rules, with sinks the tests control."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from observe.logs.apiframes import RawSplitter
from observe.logs.checkpoints import CheckpointStore
from observe.logs.delivery import Delivery
from observe.logs.sinks.base import SinkError
from observe.model import LogPosition, Record
from tests.support.waiting import wait_for


def rec(n: int) -> Record:
    return Record({"message": f"m{n}"}, n, "info", "stdout", LogPosition(n, 0, "f", n), 1, 2)


class FlakySink:
    """Fails while ``down`` is set; records what it accepted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = f"test://{name}"
        self.down = threading.Event()
        self.got: list[str] = []

    def write(self, records: Sequence[Record]) -> None:
        if self.down.is_set():
            raise SinkError(f"{self.name} is down")
        self.got.extend(str(r.doc["message"]) for r in records)

    def close(self) -> None:
        pass


def test_checkpoint_waits_for_every_sink(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path))
    fast, slow = FlakySink("fast"), FlakySink("slow")
    slow.down.set()
    delivery = Delivery([fast, slow], store, capacity=4, backoff_max=0.05)
    delivery.start()
    for n in range(3):
        assert delivery.send("c1", [rec(n)], LogPosition(n, 0, "f", n))
    wait_for(lambda: fast.got == ["m0", "m1", "m2"], "the healthy sink got everything")
    assert store.get("c1") is None, "checkpoint moved before the slow sink accepted"
    status = {s.name: s for s in delivery.statuses()}
    wait_for(lambda: delivery.statuses()[1].failed > 0, "failures counted")
    assert status["fast"].connected and status["fast"].written == status["fast"].confirmed == 3
    slow.down.clear()
    wait_for(lambda: slow.got == ["m0", "m1", "m2"], "the slow sink caught up, in order")
    wait_for(lambda: store.get("c1") == LogPosition(2, 0, "f", 2), "checkpoint at the last batch")
    assert delivery.statuses()[1].retried > 0 and delivery.statuses()[1].connected
    assert delivery.finish(time.monotonic() + 5)
    store.save()
    assert CheckpointStore(str(tmp_path)).get("c1") == LogPosition(2, 0, "f", 2)


def test_backpressure_blocks_readers_when_a_sink_is_down(tmp_path: Path) -> None:
    sink = FlakySink("down")
    sink.down.set()
    delivery = Delivery([sink], None, capacity=2, backoff_max=0.05)
    delivery.start()
    sent = []

    def reader() -> None:
        for n in range(10):
            delivery.send("c", [rec(n)], None)
            sent.append(n)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.5)  # proving that the reader did NOT get further
    assert len(sent) <= 4
    sink.down.clear()
    thread.join(timeout=10)
    wait_for(lambda: sink.got == [f"m{n}" for n in range(10)], "everything delivered in order")
    assert delivery.finish(time.monotonic() + 5)


def test_finish_with_a_dead_sink_keeps_the_checkpoint_back(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path))
    sink = FlakySink("dead")
    sink.down.set()
    delivery = Delivery([sink], store, capacity=4, backoff_max=0.05)
    delivery.start()
    delivery.send("c", [rec(1)], LogPosition(1, 0, "f", 1))
    assert not delivery.finish(time.monotonic() + 0.5)
    assert store.get("c") is None


def test_checkpoint_file_is_atomic_and_survives_garbage(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path))
    store.advance("a", LogPosition(5, 1, "1:2:3", 99))
    store.save()
    assert not list(tmp_path.glob(".positions-*"))
    assert CheckpointStore(str(tmp_path)).get("a") == LogPosition(5, 1, "1:2:3", 99)
    (tmp_path / "log-positions.json").write_text("{not json")
    assert CheckpointStore(str(tmp_path)).get("a") is None


def ts(n: int) -> bytes:
    return f"2026-11-29T18:33:{n:02d}.000000001Z ".encode()


def test_api_raw_stream_reassembles_unaligned_reads() -> None:
    # The chunks of a split line carry the time of its first (ts(2) twice).
    data = ts(1) + b"hello\n" + ts(2) + b"x" * 16384 + ts(2) + b"tail\n" + ts(4) + b"no newline"
    for size in (1, 7, 100, len(data)):
        buf = RawSplitter()
        out = []
        for i in range(0, len(data), size):
            out.extend(buf.feed(data[i:i + size]))
        out.extend(buf.feed(b"", final=True))
        assert [(c, p) for _, c, p in out] == [(b"hello", False), (b"x" * 16384, True), (b"tail", False),
                                               (b"no newline", True)]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=50).filter(lambda b: b"\n" not in b), min_size=1, max_size=20),
       st.integers(min_value=1, max_value=64))
def test_api_raw_stream_any_chunking(payloads: list[bytes], size: int) -> None:
    data = b"".join(ts(i % 60) + p + b"\n" for i, p in enumerate(payloads))
    buf = RawSplitter()
    out = []
    for i in range(0, len(data), size):
        out.extend(buf.feed(data[i:i + size]))
    assert [c for _, c, _ in out] == payloads


def test_api_reader_keeps_lines_out_of_time_order_and_skips_only_replays() -> None:
    from observe.logs.apilogs import ApiLogReader

    reader = ApiLogReader(None, "c")  # type: ignore[arg-type]  # parsing only: no engine is called
    # A long line's chunks carry the time it began; a stderr line written meanwhile came first.
    first = reader._lines([(20, b"stderr line", False)], "stderr")
    chunks = reader._lines([(10, b"big ", True), (10, b"xxx", True), (10, b"end", False)], "stdout")
    assert [line.text for line in first + chunks] == ["stderr line", "big ", "xxx", "end"]
    assert all(line.position is not None and line.position.time_ns == 20 for line in chunks)
    # Reopened at the mark (20, seq 0): the engine replays the line at 20; it is skipped, newer ones kept.
    reader._skip_ns, reader._skip_seq, reader._at_skip = reader.last_ns, reader.last_seq, 0
    again = reader._lines([(20, b"stderr line", False), (20, b"same instant, new", False), (30, b"new", False)],
                          "stderr")
    assert [line.text for line in again] == ["same instant, new", "new"]
    # After a rotation the engine's follow stream sends lines again, times going back: dropped, counted.
    replay = reader._lines([(10, b"end", False)], "stdout") + reader._lines([(30, b"new", False)], "stderr")
    assert replay == [] and reader.duplicates == 1  # "end" (before the mark it resumed from) is a replay
    # The same words on the other stream at that instant are another line.
    assert [line.text for line in reader._lines([(30, b"new", False)], "stdout")] == ["new"]
