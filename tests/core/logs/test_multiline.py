from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observe.logs.formats import FORMATS, render_batch
from observe.logs.normalise import NormaliseOptions
from observe.logs.pipeline import LogPipeline
from observe.model import LogLine, LogPosition, Record
from tests.support.logsamples import (
    GO_PANIC,
    JAVA_TRACE,
    NODE_TRACE,
    PYTHON_CHAINED,
    PYTHON_TRACE,
    T0,
    lines,
    make_container,
    run,
)


def pos(i: int) -> LogPosition:
    return LogPosition(T0, 0, "1:1", i)


def line(i: int, text: str, stream: str = "stdout", partial: bool = False, invalid: bool = False) -> LogLine:
    return LogLine(T0 + i * 1000, stream, text, partial, invalid, pos(i))


def messages(records: list[Record]) -> list[str]:
    return [r.doc["message"] for r in records]


# --- multi-line merging -----------------------------------------------------------------------


def test_java_trace_after_a_logger_header() -> None:
    header = "2026-11-25 02:18:48,123 ERROR [http-nio-8080-exec-7] c.e.s.OrderController - Request processing failed"
    recs = run([header, *JAVA_TRACE, "2026-11-25 02:18:49,000 INFO  [main] c.e.App - recovered"], stream="stderr")
    assert messages(recs) == [header, JAVA_TRACE[0], "2026-11-25 02:18:49,000 INFO  [main] c.e.App - recovered"]
    trace = recs[1]
    assert trace.doc["error.stack_trace"] == "\n".join(JAVA_TRACE)
    assert trace.lines == len(JAVA_TRACE) and trace.level == "error"
    assert trace.position == pos(1 + len(JAVA_TRACE))
    assert recs[0].level == "error" and "error.stack_trace" not in recs[0].doc
    assert recs[2].level == "info"
    assert [r.lines for r in recs] == [1, len(JAVA_TRACE), 1]


def test_java_trace_on_stdout_defaults_to_error() -> None:
    recs = run(JAVA_TRACE, stream="stdout")
    assert len(recs) == 1 and recs[0].level == "error"


def test_python_traceback_message_is_the_exception_line() -> None:
    recs = run(["starting worker", *PYTHON_TRACE, "worker restarted"], stream="stderr")
    assert messages(recs) == ["starting worker", "KeyError: 'user_id'", "worker restarted"]
    assert recs[1].doc["error.stack_trace"] == "\n".join(PYTHON_TRACE)
    assert recs[1].level == "error" and recs[1].lines == len(PYTHON_TRACE)


def test_python_chained_traceback_is_one_record() -> None:
    recs = run([*PYTHON_CHAINED, "", "next"], stream="stderr")
    assert messages(recs) == ["RuntimeError: bad input", "", "next"]  # the blank line that chained nothing
    assert recs[0].doc["error.stack_trace"] == "\n".join(PYTHON_CHAINED)
    assert recs[0].lines == len(PYTHON_CHAINED) and recs[1].lines == 1


def test_python_traceback_followed_directly_by_a_line() -> None:
    recs = run([*PYTHON_TRACE, "INFO retrying"], stream="stderr")
    assert messages(recs) == ["KeyError: 'user_id'", "INFO retrying"]
    assert recs[1].level == "info"


def test_two_tracebacks_in_a_row_stay_apart() -> None:
    recs = run([*PYTHON_TRACE, *PYTHON_TRACE], stream="stderr")
    assert len(recs) == 2 and all(r.lines == len(PYTHON_TRACE) for r in recs)


def test_go_panic() -> None:
    recs = run(["2026/11/25 02:18:48 serving on :8080", *GO_PANIC, "2026/11/25 02:18:50 serving on :8080"],
               stream="stderr")
    assert len(recs) == 3
    assert recs[1].doc["message"] == GO_PANIC[0]
    assert recs[1].doc["error.stack_trace"] == "\n".join(GO_PANIC)
    assert recs[1].level == "fatal" and recs[1].lines == len(GO_PANIC)


def test_go_fatal_error() -> None:
    recs = run(["fatal error: all goroutines are asleep - deadlock!", "", "goroutine 1 [chan receive]:",
                "main.main()", "\t/app/main.go:5 +0x25", "exit status 2"], stream="stderr")
    assert len(recs) == 1 and recs[0].level == "fatal"


def test_node_trace_and_generic_indentation() -> None:
    recs = run([*NODE_TRACE, "SELECT *", "  FROM users", "  WHERE id = 1", "done"], stream="stderr")
    assert messages(recs) == [NODE_TRACE[0], "SELECT *", "done"]
    assert recs[0].level == "error" and recs[0].lines == 3
    assert recs[1].doc["error.stack_trace"] == "SELECT *\n  FROM users\n  WHERE id = 1"
    assert recs[1].level == "error"  # stderr default: plain indentation is not taken for a trace


def test_indented_lines_on_stdout_keep_the_stream_default() -> None:
    recs = run(["config:", "  port: 80", "  host: x"])
    assert len(recs) == 1 and recs[0].level == "info" and recs[0].lines == 3


def test_level_of_a_merged_record_comes_from_its_first_line() -> None:
    recs = run(["WARN slow query", "    SELECT 1"], stream="stderr")
    assert recs[0].level == "warn"


def test_each_stream_keeps_its_own_group() -> None:
    p = LogPipeline(make_container(), NormaliseOptions())
    out: list[Record] = []
    out += p.feed(line(1, JAVA_TRACE[0], "stderr"), 0.0)
    out += p.feed(line(2, JAVA_TRACE[1], "stderr"), 0.0)
    out += p.feed(line(3, "GET /a 200", "stdout"), 0.0)
    out += p.feed(line(4, JAVA_TRACE[2], "stderr"), 0.0)
    out += p.feed(line(5, "GET /b 200", "stdout"), 0.0)  # ends the stdout record of line 3
    assert messages(out) == ["GET /a 200"]
    assert out[0].position is None  # the stderr trace from line 1 is still held: no checkpoint yet
    out += p.feed(line(6, JAVA_TRACE[3], "stderr"), 0.0)
    out += p.flush_all()
    assert messages(out) == ["GET /a 200", JAVA_TRACE[0], "GET /b 200"]
    assert out[1].doc["error.stack_trace"] == "\n".join(JAVA_TRACE[:4]) and out[1].lines == 4
    assert [r.position for r in out] == [None, pos(4), pos(6)]  # line 5 is in the record after


def test_json_lines_are_never_held_nor_merged() -> None:
    p = LogPipeline(make_container(), NormaliseOptions())
    assert messages(p.feed(line(1, '{"msg":"a"}'), 0.0)) == ["a"]
    assert not p.pending
    assert p.feed(line(2, "plain"), 0.0) == []
    assert p.pending
    out = p.feed(line(3, '{"msg":"b"}'), 0.0)
    assert messages(out) == ["b"] and [r.position for r in out] == [pos(1)]  # "plain" is still held
    assert p.pending
    assert messages(p.feed(line(4, '  {"msg":"c"} '), 0.0)) == ["c"]  # padded JSON is JSON too
    out = p.feed(line(5, "next"), 0.0)
    assert messages(out) == ["plain"] and out[0].position == pos(4)


def test_multiline_off() -> None:
    recs = run(JAVA_TRACE, NormaliseOptions(multiline=False))
    assert len(recs) == len(JAVA_TRACE) and all("error.stack_trace" not in r.doc for r in recs)


def test_group_closed_at_max_bytes() -> None:
    recs = run(["head", *["  " + "x" * 30] * 10], NormaliseOptions(max_line_bytes=100))
    assert sum(r.lines for r in recs) == 11 and len(recs) > 1
    assert all(len(r.doc["error.stack_trace"]) <= 100 for r in recs if "error.stack_trace" in r.doc)


# --- flushing ---------------------------------------------------------------------------------


def test_flush_due_after_the_timeout_since_the_last_line() -> None:
    p = LogPipeline(make_container(), NormaliseOptions(flush_timeout=1.0))
    assert p.feed(line(1, JAVA_TRACE[0]), 10.0) == []
    assert p.feed(line(2, JAVA_TRACE[1]), 10.8) == []
    assert p.flush_due(11.5) == []  # 0.7 s after the last line
    assert p.pending
    out = p.flush_due(11.8)
    assert len(out) == 1 and out[0].lines == 2 and out[0].position == pos(2)
    assert not p.pending and p.flush_due(100.0) == [] and p.flush_all() == []


def test_single_plain_line_flushed_by_timeout() -> None:
    p = LogPipeline(make_container(), NormaliseOptions(flush_timeout=0.5))
    assert p.feed(line(1, "last words"), 0.0) == []
    assert messages(p.flush_due(0.5)) == ["last words"]


def test_python_traceback_waits_for_a_possible_chain_then_flushes() -> None:
    p = LogPipeline(make_container(), NormaliseOptions(flush_timeout=1.0))
    out: list[Record] = []
    for i, t in enumerate(PYTHON_TRACE):
        out += p.feed(line(i + 1, t, "stderr"), 0.0)
    assert out == [] and p.pending
    out = p.flush_due(1.0)
    assert messages(out) == ["KeyError: 'user_id'"]


# --- Docker partial lines ---------------------------------------------------------------------


def test_partial_chunks_joined() -> None:
    chunk = "a" * 16384
    p = LogPipeline(make_container(), NormaliseOptions())
    assert p.feed(line(1, chunk, partial=True), 0.0) == []
    assert p.feed(line(2, chunk, partial=True), 0.0) == []
    assert p.feed(line(3, "tail"), 0.0) == []
    out = p.feed(line(4, "next"), 0.0) + p.flush_all()
    assert messages(out) == [chunk * 2 + "tail", "next"]
    assert out[0].lines == 3 and out[0].time_ns == T0 + 1000 and out[0].position == pos(3)
    assert out[0].nbytes == 2 * 16384 + 4
    assert p.counters["partial_joined"] == 2


def test_partial_json_line_is_parsed_once_joined() -> None:
    body = '{"level":"debug","msg":"request body","body":"' + "x" * 20000 + '"}'
    recs = run([line(1, body[:16384], partial=True), line(2, body[16384:])])
    assert len(recs) == 1 and recs[0].doc["message"] == "request body" and recs[0].level == "debug"
    assert recs[0].doc["body"] == "x" * 20000


def test_partial_lines_of_two_streams_interleaved() -> None:
    p = LogPipeline(make_container(), NormaliseOptions(multiline=False))
    out: list[Record] = []
    out += p.feed(line(1, "out-1/", "stdout", partial=True), 0.0)
    out += p.feed(line(2, "err whole", "stderr"), 0.0)
    out += p.feed(line(3, "err-3/", "stderr", partial=True), 0.0)
    assert out == []  # everything waits behind the unfinished stdout line
    out += p.feed(line(4, "out-4", "stdout"), 0.0)
    assert messages(out) == ["out-1/out-4", "err whole"]
    # The stdout record may only move the checkpoint to 1: line 2 was not delivered with it.
    # After "err whole", 3 is still held, so the checkpoint stops at 2.
    assert [r.position for r in out] == [pos(1), pos(2)]
    assert p.pending
    out += p.feed(line(5, "err-5", "stderr"), 0.0)
    assert messages(out) == ["out-1/out-4", "err whole", "err-3/err-5"]
    assert [r.position for r in out] == [pos(1), pos(2), pos(5)]
    assert [r.lines for r in out] == [2, 1, 2]
    assert not p.pending


def test_partial_join_is_capped_and_keeps_counting() -> None:
    p = LogPipeline(make_container(), NormaliseOptions(max_line_bytes=100))
    out: list[Record] = []
    for i in range(1, 6):
        out += p.feed(line(i, "é" * 40, partial=True), 0.0)
    out += p.feed(line(6, "end"), 0.0)
    out += p.flush_all()
    assert len(out) == 1
    doc = out[0].doc
    assert doc["message"] == "é" * 50 and doc["log.truncated"] is True
    assert out[0].lines == 6 and out[0].position == pos(6)
    assert p.counters["truncated"] == 1


def test_unfinished_partial_line_flushed_by_timeout_and_at_the_end() -> None:
    p = LogPipeline(make_container(), NormaliseOptions(flush_timeout=1.0))
    assert p.feed(line(1, "prompt> ", partial=True), 5.0) == []
    assert p.flush_due(5.5) == []
    assert messages(p.flush_due(6.0)) == ["prompt> "]
    assert p.feed(line(2, "bye", partial=True), 7.0) == []
    assert messages(p.flush_all()) == ["bye"]


def test_invalid_utf8_flag_carried_through_a_join() -> None:
    recs = run([line(1, "abc", partial=True, invalid=True), line(2, "def")])
    assert recs[0].doc["log.invalid_utf8"] is True and recs[0].doc["message"] == "abcdef"


def test_ansi_split_across_chunks_is_stripped_after_joining() -> None:
    recs = run([line(1, "x\x1b[3", partial=True), line(2, "1mred\x1b[0m\r")])
    assert recs[0].doc["message"] == "xred"


# --- ordering and checkpoints -----------------------------------------------------------------


@settings(max_examples=300)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["plain", "  indented", "\tat x.Y(Y.java:1)", "Caused by: e", '{"msg":"j"}',
                             "Traceback (most recent call last):", "ValueError: v", "panic: p", "", "main.main()"]),
            st.sampled_from(["stdout", "stderr"]),
            st.booleans(),
            st.booleans(),
        ),
        max_size=30,
    ),
    multiline=st.booleans(),
)
def test_every_raw_line_lands_in_exactly_one_record_in_order(
    events: list[tuple[str, str, bool, bool]], multiline: bool
) -> None:
    p = LogPipeline(make_container(), NormaliseOptions(multiline=multiline, flush_timeout=1.0))
    out: list[Record] = []
    fed: list[LogLine] = []
    for i, (text, stream, partial, tick) in enumerate(events, start=1):
        ln = line(i, text, stream, partial)
        fed.append(ln)
        out += p.feed(ln, float(i))
        if tick:
            out += p.flush_due(float(i) + 2.0)
    out += p.flush_all()
    assert sum(r.lines for r in out) == len(fed)
    # Records of one stream come out in the order of their first raw line, except JSON-shaped lines
    # (``{...}``, parsed or not: two joined partial objects are not JSON), which come out at once.
    for stream in ("stdout", "stderr"):
        times = [r.time_ns for r in out if r.stream == stream and r.doc["message"] != "j"
                 and not str(r.doc["message"]).startswith("{")]
        assert times == sorted(times)
    offsets = [r.position.offset for r in out if r.position is not None]
    assert offsets == sorted(offsets)
    if fed:
        assert out[-1].position == fed[-1].position


_KINDS = ["plain", "  indented", "\tat x.Y(Y.java:1)", "Caused by: e", '{"msg":"j"}', ' {"msg":"k"} ',
          "Traceback (most recent call last):", "ValueError: v", "panic: p", "main.main{}()", "", "   ",
          "2026-11-25 10:00:00 INFO header", "INFO header"]


def _tagged(kind: str, i: int) -> str:
    """A line of ``kind`` that names its index and is classified as ``kind`` is."""
    if not kind.strip():
        return kind
    if kind.strip().startswith("{"):
        return kind.replace('"}', f'{i}"}}')
    if kind.endswith("{}()"):
        return kind.replace("{}", f"_{i}")
    return f"{kind} #{i}"


def _raw_lines(record: Record, fed: list[LogLine]) -> set[int]:
    """Indices of the raw lines a record holds: its tagged lines and the blank ones of its stream between them."""
    doc = record.doc
    text = doc.get("error.stack_trace") or doc["message"]
    if record.lines == 1 and not text.strip():
        return {next(i for i, ln in enumerate(fed, 1) if ln.time_ns == record.time_ns)}
    found = {int(t) for t in re.findall(r"(?:#|main\.main_|[jk])(\d+)", text)}
    lo, hi = min(found), max(found)
    blanks = {i for i in range(lo, hi) if not fed[i - 1].text.strip() and fed[i - 1].stream == record.stream}
    return found | blanks


@settings(max_examples=400)
@given(
    events=st.lists(st.tuples(st.sampled_from(_KINDS), st.sampled_from(["stdout", "stderr"]), st.booleans()),
                    max_size=30),
    multiline=st.booleans(),
)
def test_a_checkpoint_never_passes_a_held_line(events: list[tuple[str, str, bool]], multiline: bool) -> None:
    """Were the collector killed after any record, resuming after its position would lose no raw line."""
    p = LogPipeline(make_container(), NormaliseOptions(multiline=multiline, flush_timeout=1.0))
    fed: list[LogLine] = []
    done: list[set[int]] = []
    for i, (kind, stream, tick) in enumerate(events, start=1):
        fed.append(line(i, _tagged(kind, i), stream))
        out = p.feed(fed[-1], float(i))
        if tick:
            out += p.flush_due(float(i) + 2.0)
        for r in out:
            done.append(_raw_lines(r, fed))
            if r.position is None:  # nothing may be checkpointed yet
                continue
            covered = set().union(*done)
            assert set(range(1, r.position.offset + 1)) <= covered, (r.position.offset, covered)
    for r in p.flush_all():
        done.append(_raw_lines(r, fed))
    every = [i for lines_ in done for i in lines_]
    assert sorted(every) == list(range(1, len(fed) + 1))  # each raw line in exactly one record


def test_positions_advance_only_past_delivered_lines() -> None:
    p = LogPipeline(make_container(), NormaliseOptions())
    raw = lines(["a", "  b", "c", "d"])
    assert p.feed(raw[0], 0.0) == [] and p.feed(raw[1], 0.0) == []
    first = p.feed(raw[2], 0.0)
    assert [r.position for r in first] == [raw[1].position]
    second = p.feed(raw[3], 0.0)
    assert [r.position for r in second] == [raw[2].position]
    assert [r.position for r in p.flush_all()] == [raw[3].position]


def test_update_container_renames_later_records() -> None:
    p = LogPipeline(make_container("old"), NormaliseOptions(multiline=False))
    assert p.feed(line(1, "a"), 0.0)[0].doc["container.name"] == "old"
    p.update_container(make_container("new"))
    assert p.feed(line(2, "b"), 0.0)[0].doc["container.name"] == "new"


GENERATOR = Path(__file__).resolve().parents[4] / "shared" / "bench" / "gen_jsonfile.py"


@pytest.mark.skipif(not GENERATOR.exists(), reason="the shared json-file generator is not beside the repository")
def test_generated_json_file_log_gives_the_expected_records(tmp_path: Path) -> None:
    """The benchmark corpus (nginx, JSON loggers, Java/Python traces, >16 KiB lines, odd bytes)."""
    log, meta = tmp_path / "c.log", tmp_path / "c.json"
    subprocess.run([sys.executable, str(GENERATOR), "--lines", "6000", "--out", str(log), "--meta", str(meta)],
                   check=True, capture_output=True)
    expected = json.loads(meta.read_text())
    pipeline = LogPipeline(make_container(), NormaliseOptions())
    records: list[Record] = []
    offset = 0
    with log.open("rb") as f:
        for i, raw in enumerate(f):
            offset += len(raw)
            d = json.loads(raw)
            text: str = d["log"]
            partial = not text.endswith("\n")
            ln = LogLine(T0 + i, d["stream"], text if partial else text[:-1], partial, "\ufffd" in text,
                         LogPosition(T0 + i, 0, "1:1", offset))
            records += pipeline.feed(ln, 0.0)
    records += pipeline.flush_all()
    assert len(records) == expected["expected_records_after_multiline"]
    assert sum(r.lines for r in records) == expected["lines"]
    assert records[-1].position is not None and records[-1].position.offset == offset
    traces = [r for r in records if "error.stack_trace" in r.doc]
    assert len(traces) == expected["java_traces"] + expected["python_traces"]
    assert all(r.level == "error" for r in traces)
    assert pipeline.counters["partial_joined"] == expected["partial_chunks"]
    assert pipeline.counters["json_parsed"] > 0 and pipeline.counters["json_failed"] == 0
    for fmt in FORMATS:
        out = render_batch([r.doc for r in records], fmt)
        assert out.count(b"\n") >= len(records)
        if fmt != "text":
            assert all(orjson.loads(x)["message"] is not None for x in out.splitlines())


# --- per stream, cut short, interrupted (issue 12) --------------------------------------------


@pytest.mark.parametrize(("header", "level"), [
    ("2026-11-25 10:00:00,123 INFO next request", "info"), ("INFO next request", "info"),
    ("[2026-11-25T10:00:00Z] next", "error"), ("level=debug msg=next", "debug"), ("W1125 10:00:00.1 1 x] next", "warn"),
    ("WARNING:root:next", "warn"), ("[notice] next", "notice"), ("Nov 25 10:00:00 host app: next", "error"),
])
def test_a_cut_short_traceback_ends_at_a_header_line(header: str, level: str) -> None:
    recs = run([*PYTHON_TRACE[:3], header, "after"], stream="stderr")
    assert messages(recs)[1:] == [header, "after"]
    assert recs[0].doc["error.stack_trace"] == "\n".join(PYTHON_TRACE[:3]) and recs[0].level == "error"
    assert recs[1].lines == 1 and recs[1].level == level  # its own record, with its own level


def test_a_traceback_cut_short_by_another_traceback() -> None:
    recs = run([*PYTHON_TRACE[:3], *PYTHON_TRACE], stream="stderr")
    assert [r.lines for r in recs] == [3, len(PYTHON_TRACE)]
    assert recs[1].doc["message"] == "KeyError: 'user_id'"


def test_a_trace_interrupted_by_json_lines_stays_whole() -> None:
    raw = [JAVA_TRACE[0], JAVA_TRACE[1], '{"level":"info","msg":"tick"}', *JAVA_TRACE[2:]]
    recs = run(raw, stream="stderr")
    assert messages(recs) == ["tick", JAVA_TRACE[0]]
    assert recs[1].doc["error.stack_trace"] == "\n".join(JAVA_TRACE) and recs[1].lines == len(JAVA_TRACE)
    recs = run([*PYTHON_TRACE[:3], '{"msg":"tick"}', *PYTHON_TRACE[3:]], stream="stderr")
    assert messages(recs) == ["tick", "KeyError: 'user_id'"] and recs[1].lines == len(PYTHON_TRACE)


def test_traces_interleaved_on_both_streams_stay_whole() -> None:
    out = []
    p = LogPipeline(make_container(), NormaliseOptions())
    n = 0
    for i, frame in enumerate(JAVA_TRACE):
        n += 1
        out += p.feed(line(n, frame, "stderr"), 0.0)
        n += 1
        out += p.feed(line(n, PYTHON_TRACE[i], "stdout"), 0.0)
    out += p.flush_all()
    assert sorted(r.lines for r in out) == [len(JAVA_TRACE), len(PYTHON_TRACE)]
    assert all(r.level == "error" for r in out)
    offsets = [r.position.offset for r in out if r.position]
    assert offsets == sorted(offsets) and out[-1].position == pos(n)


def test_blank_lines_after_a_group_are_records_of_their_own() -> None:
    recs = run([*GO_PANIC, "", "   "], stream="stderr")
    assert [r.lines for r in recs] == [len(GO_PANIC), 1, 1] and messages(recs)[1:] == ["", "   "]
    recs = run(["config:", "  ", "  port: 80", "   "])
    assert recs[0].doc["error.stack_trace"] == "config:\n  \n  port: 80" and messages(recs)[1:] == ["   "]


def test_a_cut_short_traceback_keeps_its_first_line_as_message() -> None:
    recs = run([*PYTHON_TRACE[:3], "INFO next"], stream="stderr")
    assert messages(recs) == [PYTHON_TRACE[0], "INFO next"]
