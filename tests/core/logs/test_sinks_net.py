"""The network sinks against receivers the tests run: tcp (JSON lines), fluentd (forward + acks), syslog (RFC 5424)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from observe.errors import ConfigError
from observe.logs.checkpoints import CheckpointStore
from observe.logs.delivery import Delivery
from observe.logs.formats import render
from observe.logs.sinks import SinkError, open_sink
from observe.logs.sinks.base import ConfirmingSink, fit_doc
from observe.logs.sinks.fluentd import FluentdSink, compile_tag, event_time
from observe.logs.sinks.net import StreamSink
from observe.logs.sinks.syslog import SyslogSink, frame, header_field
from observe.model import LogPosition, Record
from observe.ownlog import fluent_handler
from observe.timefmt import format_time_ns
from tests.support.sinkreceivers import FluentServer, LineServer, SyslogServer
from tests.support.waiting import wait_for

T0 = 1_767_323_045_123_456_789  # 2026-01-02T03:04:05.123456789Z


def rec(n: int, name: str = "web-1", level: str = "info", t: int = T0) -> Record:
    doc = {"@timestamp": "2026-01-02T03:04:05.123456Z", "message": f"m{n}", "log.level": level,
           "container.name": name, "container.id": "c" * 64, "service.name": "web", "host.name": "h1",
           "stream": "stdout", "observe.time_ns": t + n}
    return Record(doc, t + n, level, "stdout", None, 1, 10)


@pytest.fixture
def lines() -> Iterator[LineServer]:
    server = LineServer()
    server.start()
    yield server
    server.stop(timeout=2)


@pytest.fixture
def fluent() -> Iterator[FluentServer]:
    server = FluentServer()
    server.start()
    yield server
    server.stop(timeout=2)


# -- tcp --------------------------------------------------------------------------------------
def test_tcp_sends_json_lines_in_order(lines: LineServer) -> None:
    sink = open_sink(f"tcp://127.0.0.1:{lines.port}?format=json", "logstash")
    try:
        for start in range(0, 300, 100):
            sink.write([rec(n) for n in range(start, start + 100)])
        wait_for(lambda: lines.count() == 300, "300 lines received")
        docs = [json.loads(b) for b in lines.lines]
        assert [d["message"] for d in docs] == [f"m{n}" for n in range(300)]
        assert docs[0]["container.name"] == "web-1" and lines.connections == 1
    finally:
        sink.close()


def test_tcp_logstash_format_is_nested(lines: LineServer) -> None:
    sink = open_sink(f"tcp://127.0.0.1:{lines.port}", "logstash")
    sink.write([rec(1)])
    sink.close()
    wait_for(lambda: lines.count() == 1, "the line received")
    doc = json.loads(lines.lines[0])
    assert doc["container"]["name"] == "web-1" and doc["log"]["level"] == "info"


def test_tcp_down_receiver_fails_then_reconnects(lines: LineServer) -> None:
    sink = open_sink(f"tcp://127.0.0.1:{lines.port}?format=json&timeout=2s", "json")
    assert isinstance(sink, StreamSink)
    try:
        sink.write([rec(0)])
        wait_for(lambda: lines.count() == 1, "the first line")
        lines.stop(timeout=1)  # graceful: our side sees EOF before the next write
        batch = [rec(1), rec(2)]
        with pytest.raises(SinkError, match="closed the connection"):  # noticed before writing
            sink.write(batch)
        with pytest.raises(SinkError, match="cannot connect"):
            sink.write(batch)
        lines.start()
        sink.write(batch)
        wait_for(lambda: lines.count() >= 3 and json.loads(lines.lines[-1])["message"] == "m2",
                 "every line after the restart, up to the last one sent")
        # m0 had not settled when the receiver closed: it may come again, counted.
        messages = [json.loads(b)["message"] for b in lines.lines]
        assert messages in (["m0", "m1", "m2"], ["m0", "m0", "m1", "m2"])
        assert sink.connects == 2 and lines.connections == 2 and sink.resent == len(messages) - 3
    finally:
        sink.close()


def test_tcp_replays_what_a_crashed_receiver_did_not_acknowledge() -> None:
    """A peer that stops reading, then dies with unread data (RST): what it never acknowledged is sent again."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # accepted sockets inherit it
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    sink = open_sink(f"tcp://127.0.0.1:{port}?format=json&timeout=2s", "json")
    assert isinstance(sink, StreamSink)
    try:
        sink.write([rec(0)])
        conn, _ = listener.accept()
        with conn:
            got = b""
            while not got.endswith(b"\n"):
                got += conn.recv(4096)
            sink.write([rec(n) for n in range(1, 2001)])  # far more than the peer's window: unconfirmed
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        listener.close()
        server = LineServer(port)
        server.start()
        try:
            with pytest.raises(SinkError, match="reset the connection"):
                sink.write([rec(2001)])  # the reset is noticed before writing
            sink.write([rec(2001)])  # the unconfirmed lines go out again first
            # Up to the last line sent: m0 may come again first, so 2001 lines are not always all of them.
            wait_for(lambda: server.count() >= 2001 and json.loads(server.lines[-1])["message"] == "m2001",
                     "the replayed lines, up to the last one sent")
            messages = [json.loads(b)["message"] for b in server.lines]
            # m0 was read, but acknowledged less than a second before the reset: it may come again.
            assert messages in ([f"m{n}" for n in range(1, 2002)], [f"m{n}" for n in range(2002)]), \
                "replayed whole, in order"
            assert sink.resent == len(messages) - 1
        finally:
            server.stop(timeout=2)
    finally:
        listener.close()
        sink.close()


# -- fluentd ----------------------------------------------------------------------------------
def test_fluentd_packed_forward_with_event_time_and_tags(fluent: FluentServer) -> None:
    sink = open_sink(f"fluentd://127.0.0.1:{fluent.port}?tag=docker.{{service.name}}.{{container.name}}", "logstash")
    try:
        sink.write([rec(0), rec(1, name="web-2"), rec(2)])
        assert len(fluent.chunks) == 2, "one PackedForward message per tag"
        tags = [tag for tag, _, _ in fluent.events]
        assert tags == ["docker.web.web-1", "docker.web.web-1", "docker.web.web-2"]
        times = [t for _, t, _ in fluent.events]
        assert times == [("EventTime", T0), ("EventTime", T0 + 2), ("EventTime", T0 + 1)]
        first = fluent.events[0][2]
        assert first["container"]["name"] == "web-1" and first["observe"]["time_ns"] == T0
        assert [c[1] for c in fluent.chunks] == [2, 1] and all(c[0] for c in fluent.chunks)
        assert sink.resent == 0  # type: ignore[attr-defined]
    finally:
        sink.close()


def test_fluentd_flat_records_and_default_tag(fluent: FluentServer) -> None:
    sink = open_sink(f"fluentd://127.0.0.1:{fluent.port}?format=json", "logstash")
    sink.write([rec(5)])
    sink.close()
    tag, _, record = fluent.events[0]
    assert tag == "docker.web-1" and record["container.name"] == "web-1" and record["message"] == "m5"


def test_fluentd_unacknowledged_chunk_is_sent_again() -> None:
    withheld: list[str] = []

    def withhold_first(chunk: str) -> bool:
        if not withheld:
            withheld.append(chunk)
            return True
        return False

    server = FluentServer(withhold=withhold_first)
    server.start()
    sink = FluentdSink(f"fluentd://127.0.0.1:{server.port}?ack_timeout=300ms", "logstash")
    try:
        batch = [rec(n) for n in range(3)]
        with pytest.raises(SinkError, match="did not acknowledge"):
            sink.write(batch)
        sink.write(batch)  # what the delivery loop does after a backoff
        assert [c[0] for c in server.chunks] == [withheld[0], withheld[0]], "re-sent with the same chunk id"
        assert sink.resent == 3 and sink.connects == 2
        assert [r["message"] for r in server.records()] == ["m0", "m1", "m2"] * 2
        sink.write([rec(9)])
        assert sink.resent == 3
    finally:
        sink.close()
        server.stop(timeout=2)


def test_fluentd_without_acks_sends_no_chunk_id(fluent: FluentServer) -> None:
    sink = open_sink(f"fluentd://127.0.0.1:{fluent.port}?ack=false", "logstash")
    sink.write([rec(0)])
    wait_for(lambda: len(fluent.chunks) == 1, "the chunk")
    sink.close()
    assert fluent.chunks == [(None, 1)]


def test_fluentd_down_receiver_is_a_sink_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    sink = open_sink(f"fluentd://127.0.0.1:{port}?timeout=1s", "logstash")
    with pytest.raises(SinkError, match="cannot connect"):
        sink.write([rec(0)])
    sink.close()


def test_own_logs_reach_fluentd_through_fluent_logger(fluent: FluentServer) -> None:
    handler = fluent_handler(f"127.0.0.1:{fluent.port}")
    logger = logging.getLogger("observe.test.ownlog")
    logger.addHandler(handler)
    try:
        logger.warning("sink cannot take records", extra={"event": "SinkDisconnected", "sink": "tcp:x"})
        wait_for(lambda: fluent.events, "our own log record at Fluentd")
    finally:
        logger.removeHandler(handler)
        handler.close()
    tag, when, record = fluent.events[0]
    assert tag == "observe.own" and when[0] == "EventTime"
    assert record["message"] == "sink cannot take records" and record["event"] == "SinkDisconnected"
    assert record["level"] == "warning" and record["logger"] == "observe.test.ownlog"


def test_event_time_is_ext_zero_big_endian() -> None:
    ext = event_time(T0)
    assert ext.code == 0 and ext.data == (1_767_323_045).to_bytes(4, "big") + (123_456_789).to_bytes(4, "big")
    assert msgpack.packb(ext)[:2] == b"\xd7\x00"  # fixext 8, type 0


def test_tag_templates() -> None:
    doc = {"container.name": "a/b c", "service.name": "web"}
    assert compile_tag("docker.{container.name}")(doc) == "docker.a_b_c"
    assert compile_tag("x.{missing}")(doc) == "x._"
    assert compile_tag("static.tag")(doc) == "static.tag"
    for bad in ("", "docker.{", "docker.}", "{}", "{a b}", "do cker.{service.name}"):
        with pytest.raises(ValueError):
            compile_tag(bad)
    with pytest.raises(ConfigError, match="unbalanced brace"):
        open_sink("fluentd://127.0.0.1?tag=docker.{container.name", "logstash")


@given(st.dictionaries(st.sampled_from(["container.name", "service.name", "host.name"]), st.text(max_size=20)))
def test_rendered_tags_are_always_safe(doc: dict[str, str]) -> None:
    tag = compile_tag("docker.{service.name}.{container.name}.{host.name}")(doc)
    assert re.fullmatch(r"docker\.[A-Za-z0-9_.\-]+\.[A-Za-z0-9_.\-]+\.[A-Za-z0-9_.\-]+", tag)


# -- syslog -----------------------------------------------------------------------------------
FRAME = re.compile(rb"(\d+) ")


def split_frames(data: bytes) -> list[bytes]:
    out = []
    while data:
        m = FRAME.match(data)
        assert m, data[:40]
        n = int(m.group(1))
        out.append(data[m.end():m.end() + n])
        assert len(out[-1]) == n
        data = data[m.end() + n:]
    return out


def test_syslog_frame_fields() -> None:
    sink = open_sink("syslog+tcp://127.0.0.1:5514?facility=local3&format=json", "logstash")
    assert isinstance(sink, SyslogSink)
    data = sink.encode([rec(0, level="error"), rec(1, name="ünïcode name" + "x" * 60, level="debug")])
    first, second = split_frames(data)
    head = first.split(b" ", 7)
    assert head[:7] == [b"<155>1", b"2026-01-02T03:04:05.123456Z", b"h1", b"web-1", b"-", b"stdout", b"-"]
    assert json.loads(head[7])["message"] == "m0"
    app = second.split(b" ")[3]
    assert second.startswith(b"<159>1 ") and len(app) == 48 and app.startswith(b"_n_code_name")
    sink.close()


def test_syslog_over_tcp(lines: LineServer) -> None:
    sink = open_sink(f"syslog+tcp://127.0.0.1:{lines.port}", "logstash")
    sink.write([rec(n) for n in range(10)])
    sink.close()
    wait_for(lambda: bytes(lines.raw).endswith(b'"m9"}}') or b'"m9"' in bytes(lines.raw)[-400:], "syslog data")
    frames = split_frames(bytes(lines.raw))
    assert [json.loads(f.split(b" ", 7)[7])["message"] for f in frames] == [f"m{n}" for n in range(10)]


@given(st.text(max_size=100), st.integers(min_value=1, max_value=64))
def test_header_fields_are_printable_ascii(value: str, limit: int) -> None:
    out = header_field(value, limit)
    assert 1 <= len(out) <= limit or out == "-"
    assert all(33 <= ord(c) < 127 for c in out)


@given(st.integers(min_value=0, max_value=4_000_000_000 * 10**9))
def test_timestamps_have_microseconds(ns: int) -> None:
    stamp = format_time_ns(ns)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    assert int(stamp[20:26]) == (ns % 10**9) // 1000


def test_frame_counts_octets_of_utf8() -> None:
    data = frame(rec(0), "é".encode(), 16)
    n, _, body = data.partition(b" ")
    assert int(n) == len(body)


def test_tcp_sink_is_usable_from_another_thread(lines: LineServer) -> None:
    sink = open_sink(f"tcp://127.0.0.1:{lines.port}?format=json", "json")
    thread = threading.Thread(target=sink.write, args=([rec(0)],))
    thread.start()
    thread.join()
    sink.close()
    wait_for(lambda: lines.count() == 1, "the line")


# -- confirmation, idle connections, size limits, framing ---------------------------------------
def big(n: int, size: int, text: str = "x") -> Record:
    r = rec(n)
    doc = {**r.doc, "message": f"{n} " + text * (size // len(text.encode()))}
    return Record(doc, r.time_ns, r.level, r.stream, LogPosition(n, 0, "f", n), 1, size)


def silent_listener() -> tuple[socket.socket, int]:
    """A peer that accepts and never reads, with a small receive buffer: what we send stays unacknowledged."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    return listener, listener.getsockname()[1]


@given(st.text(min_size=0, max_size=3000), st.sampled_from(["json", "logstash", "text"]),
       st.integers(min_value=1024, max_value=4096), st.text(max_size=2000))
def test_fit_doc_fits_flags_and_stays_valid(message: str, fmt: str, limit: int, trace: str) -> None:
    doc: dict[str, object] = {**rec(0).doc, "message": message, "error.stack_trace": trace, "app": {"k": trace}}

    def size(d: object) -> int:
        return len(render(d, fmt))  # type: ignore[arg-type]

    fitted = fit_doc(doc, limit, size)
    if size(doc) <= limit:
        assert fitted is None
        return
    assert fitted is not None and size(fitted) <= limit
    assert fitted["log.truncated"] is True and int(fitted["observe.truncated_bytes"]) > 0
    out = render(fitted, fmt)
    out.decode("utf-8")  # valid UTF-8
    if fmt != "text":
        assert json.loads(out)
    assert message.startswith(str(fitted["message"])), "cut anywhere but at the end"
    assert doc == {**rec(0).doc, "message": message, "error.stack_trace": trace, "app": {"k": trace}}, "input changed"


def test_fit_doc_cuts_the_message_first_on_a_character_boundary() -> None:
    doc = {**rec(0).doc, "message": "é" * 30_000}
    fitted = fit_doc(doc, 32 << 10, lambda d: len(render(d, "json")) + 1)
    assert fitted is not None
    assert set(fitted["message"]) == {"é"} and len(render(fitted, "json")) + 1 <= 32 << 10
    assert fitted["observe.truncated_bytes"] == 2 * (30_000 - len(fitted["message"]))
    assert fitted["container.name"] == "web-1"


def test_tcp_cuts_a_40kb_record_to_what_a_32kb_receiver_takes() -> None:
    server = LineServer(max_message=32 << 10)  # like Fluent Bit's in_tcp: a longer line drops the connection
    server.start()
    sink = open_sink(f"tcp://127.0.0.1:{server.port}?format=logstash", "json")
    assert isinstance(sink, StreamSink)
    try:
        sink.write([rec(1), big(2, 40_000), rec(3)])
        wait_for(lambda: server.count() == 3, "three lines")
        docs = [json.loads(b) for b in server.lines]
        assert [d["message"].split(" ")[0] for d in docs] == ["m1", "2", "m3"]
        assert docs[1]["log"]["truncated"] is True and docs[1]["observe"]["truncated_bytes"] > 7000
        assert "truncated" not in docs[0].get("log", {})
        assert server.oversize == 0 and server.connections == 1 and sink.truncated == 1
    finally:
        sink.close()
        server.stop(timeout=2)
    raw = LineServer(max_message=32 << 10)
    raw.start()
    unlimited = open_sink(f"tcp://127.0.0.1:{raw.port}?max_record_bytes=1MiB", "json")
    try:  # the receiver's limit is real: a line over it drops the connection
        unlimited.write([big(2, 40_000)])
        wait_for(lambda: raw.oversize == 1, "the receiver dropping the connection")
    finally:
        unlimited.close()
        raw.stop(timeout=2)


@pytest.mark.parametrize("framing", ["octet-counting", "newline"])
def test_syslog_framings_reach_a_strict_receiver(framing: str) -> None:
    server = SyslogServer(framing, max_message=32 << 10)
    server.start()
    sink = open_sink(f"syslog+tcp://127.0.0.1:{server.port}?framing={framing}&format=json", "json")
    try:
        sink.write([rec(n) for n in range(5)] + [big(5, 40_000, "ü")])
        wait_for(lambda: server.count() == 6, "six messages")
        docs = [json.loads(m.split(b" ", 7)[7]) for m in server.messages]
        assert [d["message"].split(" ")[0] for d in docs] == ["m0", "m1", "m2", "m3", "m4", "5"]
        assert docs[5]["log.truncated"] is True and len(server.messages[5]) <= 32 << 10
        assert server.bad_frames == server.oversize == 0 and server.connections == 1
    finally:
        sink.close()
        server.stop(timeout=2)


def test_syslog_framing_mismatch_is_noticed_not_reported_as_sent() -> None:
    """Octet counting to a newline receiver: it drops the connection; the sink notices and confirms nothing.

    (A refused frame that had settled, a second after its acknowledgement, is beyond what TCP tells.)
    """
    server = SyslogServer("newline")
    server.start()
    sink = open_sink(f"syslog+tcp://127.0.0.1:{server.port}?format=json", "json")
    assert isinstance(sink, ConfirmingSink)
    try:
        sink.write([rec(0)])
        wait_for(lambda: server.bad_frames == 1, "the receiver refusing the frame")

        def noticed() -> bool:
            try:
                sink.confirmed()
            except SinkError:
                return True
            return False

        wait_for(noticed, "the dropped connection noticed")
        assert sink.unconfirmed() == 1 and server.count() == 0
    finally:
        sink.close()
        server.stop(timeout=2)


def test_bad_size_and_framing_options_fail_in_one_line() -> None:
    for url, why in (("tcp://h:1?max_record_bytes=lots", "is not a size"),
                     ("tcp://h:1?max_record_bytes=100", "below 1024"),
                     ("syslog+tcp://h?framing=lf", "framing='lf'"),
                     ("fluentd://h?max_record_bytes=-1", "is not a size")):
        with pytest.raises(ConfigError, match=why):
            open_sink(url, "json")


def test_a_peer_reset_while_idle_is_noticed_and_what_it_lost_is_sent_again() -> None:
    server = LineServer()
    server.start()
    sink = open_sink(f"tcp://127.0.0.1:{server.port}?format=json&timeout=2s", "json")
    assert isinstance(sink, ConfirmingSink)
    try:
        sink.write([rec(n) for n in range(100)])
        wait_for(lambda: server.count() == 100, "the lines")
        server.kill()  # a crash, while nothing is being written
        with pytest.raises(SinkError, match=r"reset|closed"):
            sink.confirmed()
        server.start()
        sink.confirmed()  # reconnects; what had not settled goes again
        wait_for(lambda: server.count() >= 100 + sink.resent, "the re-sent lines")
        assert sink.resent in (0, 100)
        assert server.connections == 2
    finally:
        sink.close()
        server.stop(timeout=2)


def test_written_is_not_confirmed_until_the_peer_acknowledges_and_the_stop_says_so(tmp_path: object) -> None:
    listener, port = silent_listener()
    sink = open_sink(f"tcp://127.0.0.1:{port}?format=json&timeout=2s", "json")
    assert isinstance(sink, ConfirmingSink)
    try:
        sink.write([big(n, 2000) for n in range(400)])  # 800 KB: far more than the peer's window
        conn, _ = listener.accept()
        assert sink.confirmed() == 0 and sink.unconfirmed() == 400
        assert sink.finish(time.monotonic() + 0.5) == 0, "confirmed what the peer never acknowledged"
        conn.close()
    finally:
        listener.close()


def test_delivery_moves_checkpoints_only_for_confirmed_batches(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    listener, port = silent_listener()
    store = CheckpointStore(str(tmp_path))
    sink = open_sink(f"tcp://127.0.0.1:{port}?format=json&timeout=2s", "json")
    delivery = Delivery([sink], store, backoff_max=0.2)
    caplog.set_level(logging.WARNING)
    delivery.start()
    try:
        records = [big(n, 2000) for n in range(400)]
        delivery.send("c", records, records[-1].position)
        wait_for(lambda: delivery.statuses()[0].written == 400, "the batch written")
        conn, _ = listener.accept()
        time.sleep(0.3)  # proving that nothing is confirmed while the peer does not read
        status = delivery.statuses()[0]
        assert status.confirmed == 0 and status.unconfirmed == 400 and store.get("c") is None
        with conn:
            got = 0
            conn.settimeout(5)
            while got < sum(len(render(r.doc, "json")) + 1 for r in records):
                got += len(conn.recv(1 << 20))
            # Read everything: acknowledged, then settled after a second.
            wait_for(lambda: store.get("c") == records[-1].position, "the checkpoint after confirmation")
            assert delivery.statuses()[0].confirmed == 400 and delivery.pending == 0
            second = [big(n, 2000) for n in range(400, 420)]
            delivery.send("c", second, second[-1].position)
            wait_for(lambda: delivery.statuses()[0].written == 420, "the second batch written")
        # The peer closed with the second batch unread (a reset): noticed while idle, not confirmed.
        wait_for(lambda: delivery.statuses()[0].disconnects == 1, "the reset noticed with nothing to write")
        assert any(getattr(r, "event", "") == "SinkDisconnected" for r in caplog.records)
        assert not delivery.finish(time.monotonic() + 1)
        assert delivery.pending == 20 and store.get("c") == records[-1].position
    finally:
        listener.close()
