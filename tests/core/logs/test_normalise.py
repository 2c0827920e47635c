from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observe.logs.formats import FORMATS, render
from observe.logs.levels import canonical_level, detect_level
from observe.logs.normalise import NormaliseOptions, normalise
from observe.logs.pipeline import LogPipeline
from observe.model import LEVELS, LogLine, LogPosition
from observe.timefmt import format_time_ns, parse_time
from tests.support.logsamples import T0, make_container, run

REQUIRED = ("@timestamp", "@version", "message", "log.level", "stream", "container.id", "container.name",
            "container.image.name", "container.image.tag", "service.name", "observe.time_ns")


def norm(text: str, stream: str = "stdout", options: NormaliseOptions | None = None, **kw: Any) -> dict[str, Any]:
    return normalise(text, T0, stream, make_container(), options or NormaliseOptions(), **kw)


# --- ECS fields -------------------------------------------------------------------------------


def test_ecs_fields_of_a_plain_line() -> None:
    c = make_container("shop-web-1", "registry.local:5000/shop/web:2.4",
                       {"team": "payments", "secret": "x", "com.docker.compose.service": "web",
                        "com.docker.compose.project": "shop"})
    doc = normalise("GET /healthz 200", T0, "stdout", c,
                    NormaliseOptions(host_name="node-7", label_allowlist=("team", "absent")))
    assert doc["@timestamp"] == "2026-11-25T02:18:48.123456Z"
    assert doc["@version"] == "1"
    assert doc["message"] == "GET /healthz 200"
    assert doc["log.level"] == "info"
    assert doc["stream"] == "stdout"
    assert doc["container.id"] == "c" * 64 and doc["container.name"] == "shop-web-1"
    assert doc["container.image.name"] == "registry.local:5000/shop/web"
    assert doc["container.image.tag"] == "2.4"
    assert doc["container.labels"] == {"team": "payments"}
    assert doc["service.name"] == "shop/web"
    assert doc["host.name"] == "node-7"
    assert doc["observe.time_ns"] == T0
    assert "error.stack_trace" not in doc and "log.truncated" not in doc and "log.invalid_utf8" not in doc


def test_labels_and_host_left_out_when_empty() -> None:
    doc = norm("x")
    assert "container.labels" not in doc and "host.name" not in doc


def test_default_level_per_stream_is_configurable() -> None:
    assert norm("something happened", "stdout")["log.level"] == "info"
    assert norm("something happened", "stderr")["log.level"] == "error"
    opts = NormaliseOptions(default_level={"stdout": "debug", "stderr": "warn"})
    assert norm("x", "stdout", opts)["log.level"] == "debug"
    assert norm("x", "stderr", opts)["log.level"] == "warn"


def test_timestamp_formatting() -> None:
    assert format_time_ns(0) == "1970-01-01T00:00:00.000000Z"
    assert format_time_ns(T0) == "2026-11-25T02:18:48.123456Z"
    assert format_time_ns(T0 + 1_000_000_000) == "2026-11-25T02:18:49.123456Z"
    assert format_time_ns(-5) == "1970-01-01T00:00:00.000000Z"
    assert format_time_ns(10**30).startswith("9999-12-31T23:59:59")


# --- level detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("ERROR something broke", "error"),
        ("WARN disk at 91%", "warn"),
        ("WARNING: deprecated option", "warn"),
        ("[info] server started", "info"),
        ("[Notice] reloading", "notice"),
        ('time="2026-11-25T02:18:48Z" level=debug msg="cache warm"', "debug"),
        ("ts=2026-11-25T02:18:48Z lvl=eror msg=x", "error"),
        ('level="warning" msg=x', "warn"),
        ("E1125 10:00:00.123456       1 reflector.go:138] failed to list", "error"),
        ("W1125 10:00:00.123456       1 warnings.go:70] deprecated", "warn"),
        ("I1125 10:00:00.123456       1 leaderelection.go:248] acquired lease", "info"),
        ("F1125 10:00:00.123456       1 main.go:40] cannot start", "fatal"),
        ("<3>disk failure", "error"),
        ("<4>low memory", "warn"),
        ("<14>Nov 25 02:18:48 host app: started", "info"),
        ("<0>kernel panic", "fatal"),
        ("ERROR:root:payment failed", "error"),
        ("WARNING:urllib3.connectionpool:Retrying", "warn"),
        ('2026/11/25 02:18:48 [error] 29#29: *1 open() "/x" failed (2: No such file or directory)', "error"),
        ("2026/11/25 02:18:48 [warn] 1#1: conflicting server name", "warn"),
        ("2026-11-25 02:18:48,123 INFO  [main] com.example.App - started in 2.3 s", "info"),
        ("2026-11-25 02:18:48.123 DEBUG [http-nio-8080-exec-1] o.s.w.s.DispatcherServlet - GET /", "debug"),
        ("10:00:00.123 [main] ERROR com.example.App - failed", "error"),
        ("2026-11-25T02:18:48.123Z CRIT queue overflow", "critical"),
        ("FATAL: could not open file", "fatal"),
        ("panic: runtime error: index out of range", "fatal"),
        ("Error: ENOENT: no such file or directory", "error"),
        ("2026-11-25T02:18:48Z INF listening addr=:8080", "info"),
        ("[2026-11-25 02:18:48] production.ERROR: exception", None),
        ("SEVERE: Servlet.service() threw exception", "error"),
    ],
)
def test_detect_level(text: str, level: str | None) -> None:
    assert detect_level(text) == level


@pytest.mark.parametrize(
    "text",
    [
        '10.0.0.1 - - [25/Nov/2026:02:18:48 +0000] "GET /error HTTP/1.1" 500 12 "-" "curl/8.5.0"',
        "the request failed because of an error in the upstream service",
        "user info updated for alice",
        "a quick warning about the weather",
        "Processed 3 items, 0 errors, 1 warning",
        "Ed1125 not klog",
        "<999>not syslog",
        "",
    ],
)
def test_no_level_from_words_inside_messages(text: str) -> None:
    assert detect_level(text) is None


def test_canonical_level() -> None:
    assert canonical_level("WARNING") == "warn"
    assert canonical_level(" Err ") == "error"
    assert canonical_level("crit") == "critical"
    assert canonical_level("emerg") == "fatal"
    assert canonical_level("alert") == "critical"
    assert canonical_level("PANIC") == "fatal"
    assert canonical_level(30) == "info" and canonical_level(50) == "error" and canonical_level(60) == "fatal"
    assert canonical_level(3) == "error" and canonical_level(7) == "debug"
    assert canonical_level(True) is None and canonical_level(35) is None and canonical_level("loud") is None
    assert canonical_level(None) is None and canonical_level(["info"]) is None
    assert set(LEVELS) >= {canonical_level(x) for x in ("trace", "debug", "info", "notice", "warn", "error")}


# --- JSON application lines -------------------------------------------------------------------


def test_zap_line() -> None:
    doc = norm('{"level":"warn","ts":1795573130.5,"logger":"db.pool","caller":"pool/pool.go:88",'
               '"msg":"connection pool exhausted","waiting":3}')
    assert doc["message"] == "connection pool exhausted"
    assert doc["log.level"] == "warn"
    assert doc["@timestamp"] == "2026-11-25T02:18:50.500000Z"
    assert doc["observe.time_ns"] == T0
    assert doc["logger"] == "db.pool" and doc["caller"] == "pool/pool.go:88" and doc["waiting"] == 3
    assert "level" not in doc and "ts" not in doc and "msg" not in doc


def test_pino_line_numeric_level_and_millis() -> None:
    doc = norm('{"level":50,"time":1795573128999,"pid":1,"hostname":"a1b2","msg":"payment declined"}')
    assert doc["log.level"] == "error" and doc["message"] == "payment declined"
    assert doc["@timestamp"] == "2026-11-25T02:18:48.999000Z"
    assert doc["pid"] == 1 and doc["hostname"] == "a1b2"


def test_bunyan_line() -> None:
    doc = norm('{"name":"api","hostname":"h","pid":7,"level":30,"msg":"listening",'
               '"time":"2026-11-25T02:18:49.250Z","v":0}')
    assert doc["log.level"] == "info" and doc["@timestamp"] == "2026-11-25T02:18:49.250000Z"
    assert doc["name"] == "api" and doc["v"] == 0


def test_logrus_line_with_offset_time() -> None:
    doc = norm('{"level":"error","msg":"db down","time":"2026-11-25T03:18:49+01:00","component":"store"}')
    assert doc["log.level"] == "error" and doc["@timestamp"] == "2026-11-25T02:18:49.000000Z"
    assert doc["component"] == "store"


def test_structlog_line_uses_event_as_message() -> None:
    doc = norm('{"event":"user logged in","level":"info","timestamp":"2026-11-25T02:18:49.123456Z","user":"al"}')
    assert doc["message"] == "user logged in" and doc["user"] == "al"
    assert doc["@timestamp"] == "2026-11-25T02:18:49.123456Z"


def test_ecs_style_nested_log_level_and_conflicts() -> None:
    doc = norm('{"@timestamp":"2026-11-25T02:18:49.5Z","log":{"level":"WARNING","logger":"app"},'
               '"message":"hi","service":{"name":"theirs"},"container":"x","host":"y","stream":"z"}')
    assert doc["log.level"] == "warn" and doc["message"] == "hi"
    assert doc["@timestamp"] == "2026-11-25T02:18:49.500000Z"
    assert doc["log.logger"] == "app" and "app_log" not in doc  # where ECS puts it
    assert doc["app_service"] == {"name": "theirs"}
    assert doc["app_container"] == "x" and doc["app_stream"] == "z"
    assert doc["app_host"] == "y" and "host" not in doc  # ours even when this record has no host.name
    assert doc["service.name"] == "web-1" and doc["stream"] == "stdout"


def test_flat_log_level_key_and_conflict_chain() -> None:
    doc = norm('{"log.level":"debug","msg":"m","message":"second","app_message":"taken"}')
    assert doc["log.level"] == "debug" and doc["message"] == "m"
    assert doc["app_app_message"] == "second" and doc["app_message"] == "taken"


@pytest.mark.parametrize(("value", "level"), [('"Warning"', "warn"), ('" info "', "info"), ('"CRIT"', "critical"),
                                             ("40", "warn"), ("3", "error"), ("true", None), ('["info"]', None)])
def test_json_level_values(value: str, level: str | None) -> None:
    doc = norm('{"severity":' + value + ',"msg":"m"}', "stderr")
    assert doc["log.level"] == (level or "error")
    assert ("severity" in doc) == (level is None)


def test_unknown_level_and_bad_time_stay_as_fields() -> None:
    doc = norm('{"level":"loud","time":"yesterday","ts":1795573129,"msg":"x"}', "stderr")
    assert doc["log.level"] == "error"  # the stream's default
    assert doc["level"] == "loud" and doc["time"] == "yesterday"
    assert doc["@timestamp"] == "2026-11-25T02:18:49.000000Z"


def test_json_key_nests_extra_fields() -> None:
    opts = NormaliseOptions(json_key="fields")
    doc = norm('{"msg":"x","level":"info","user":{"id":1},"container":"c"}', options=opts)
    assert doc["fields"] == {"user": {"id": 1}, "container": "c"}
    assert "user" not in doc
    doc = norm('{"msg":"x","a":1}', options=NormaliseOptions(json_key="log"))
    assert doc["app_log"] == {"a": 1} and doc["log.level"] == "info"


def test_json_without_message_keeps_the_line() -> None:
    text = '{"status":200,"path":"/x"}'
    doc = norm(text)
    assert doc["message"] == text and doc["status"] == 200


def test_non_string_message_is_skipped() -> None:
    doc = norm('{"message":{"a":1},"msg":"real"}')
    assert doc["message"] == "real" and doc["app_message"] == {"a": 1}


@pytest.mark.parametrize("text", ['{"level":"info", broken', '{not json}', '{"a": NaN}', '{"a":1}}'])
def test_invalid_json_stays_plain_text(text: str) -> None:
    doc = norm(text)
    assert doc["message"] == text and doc["log.level"] == "info"


@pytest.mark.parametrize("text", ["42", '["a", 1]', '"a string"', "null", "true"])
def test_non_object_json_stays_plain_text(text: str) -> None:
    assert norm(text)["message"] == text


def test_json_counters() -> None:
    recs = run(['{"msg":"a"}', '{"msg":', "plain", '{"level":"info"}'], NormaliseOptions(multiline=False))
    assert len(recs) == 4
    pipeline = LogPipeline(make_container(), NormaliseOptions())
    for i, t in enumerate(['{"msg":"a"}', '{"msg":}', '{"msg":', "plain"]):
        pipeline.feed(LogLine(T0, "stdout", t, position=LogPosition(T0, i)), 0.0)
    assert pipeline.counters["json_parsed"] == 1 and pipeline.counters["json_failed"] == 1


def test_deeply_nested_json_is_kept_as_text() -> None:
    text = '{"a":' * 400 + "1" + "}" * 400
    doc = norm(text)
    assert doc["message"] == text
    assert orjson.loads(render(doc, "logstash"))["message"] == text


def test_json_message_ansi_stripped() -> None:
    assert norm('{"msg":"\\u001b[31mred\\u001b[0m"}')["message"] == "red"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25T02:18:48Z", 1_795_573_128 * 10**9),
        ("2026-11-25T02:18:48.123456789Z", 1_795_573_128_123_456_789),
        ("2026-11-25 02:18:48,5+00:00", 1_795_573_128_500_000_000),
        ("2026-11-25T04:18:48.1+0200", 1_795_573_128_100_000_000),
        ("2026-11-24T21:18:48-05:00", 1_795_573_128 * 10**9),
        (1_795_573_128, 1_795_573_128 * 10**9),
        (1_795_573_128.25, 1_795_573_128_250_000_000),
        (1_795_573_128_250, 1_795_573_128_250_000_000),
        (1_795_573_128_250_001, 1_795_573_128_250_001_000),
        (1_795_573_128_250_001_002, 1_795_573_128_250_001_002),
        (1_795_573_128_250.0, 1_795_573_128_250_000_000),
        (1.795573128250001e15, 1_795_573_128_250_001_000),
        (1.7955731282500012e18, int(1.7955731282500012e18)),
        ("2026-11-25T02:18:48", None),  # no zone: ambiguous
        ("2026-02-30T00:00:00Z", None),
        ("2026-11-25T25:00:00Z", None),
        ("next tuesday", None),
        (True, None),
        (0, None),
        (-5, None),
        (3.5, None),  # a duration, not a time
        (float("nan"), None),
        (float("inf"), None),
        (10**25, None),
        (None, None),
        ({"t": 1}, None),
        ("1795573128", None),
    ],
)
def test_parse_time(value: object, expected: int | None) -> None:
    assert parse_time(value) == expected


# --- bad input --------------------------------------------------------------------------------


def test_ansi_stripped_or_kept() -> None:
    text = "\x1b[32mINFO\x1b[0m \x1b[1mserver\x1b[0m listening \x1b]0;title\x07on :8080\x1b[2K"
    assert norm(text)["message"] == "INFO server listening on :8080"
    assert norm(text)["log.level"] == "info"
    assert norm(text, options=NormaliseOptions(strip_ansi=False))["message"] == text


def test_crlf_removed() -> None:
    line = "2026-11-25 02:18:48,123 WARN  [main] x - y"
    assert norm(line + "\r")["message"] == line
    assert norm("\r\r")["message"] == ""
    assert norm("a\rb")["message"] == "a\rb"


def test_truncation_on_a_utf8_boundary() -> None:
    opts = NormaliseOptions(max_line_bytes=10)
    doc = norm("abcdefghijklmnop", options=opts)
    assert doc["message"] == "abcdefghij" and doc["log.truncated"] is True
    doc = norm("aé€😀xyz", options=opts)  # 1 + 2 + 3 + 4 bytes = 10
    assert doc["message"] == "aé€😀" and doc["log.truncated"] is True
    doc = norm("éééééé", options=opts)  # 12 bytes: cut inside the 6th
    assert doc["message"] == "ééééé" and len(doc["message"].encode()) == 10
    assert "log.truncated" not in norm("€€€", options=opts)


def test_invalid_utf8_flagged() -> None:
    assert norm("caf\ufffd")["log.invalid_utf8"] is True
    assert norm("clean", invalid_utf8=True)["log.invalid_utf8"] is True
    assert "log.invalid_utf8" not in norm("clean")


def test_stack_trace_argument() -> None:
    doc = norm("boom", stack_trace="boom\n\tat x")
    assert doc["error.stack_trace"] == "boom\n\tat x"


# --- property tests ---------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
_keys = st.sampled_from(["msg", "message", "log", "event", "level", "severity", "lvl", "levelname", "log.level",
                         "time", "ts", "timestamp", "@timestamp", "container", "host", "stream", "app_log",
                         "service", "error", "observe", "@version", "container.id", "x"])
_json_objects = st.dictionaries(_keys | st.text(max_size=10), _json_values, max_size=8)


def _invalid_utf8_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


_texts = (
    st.text(max_size=300)
    | st.binary(max_size=300).map(_invalid_utf8_text)
    | st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=50)
    | _json_objects.map(lambda d: json.dumps(d, ensure_ascii=False))
    | _json_values.map(lambda v: json.dumps(v))
    | st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "😀", "\x1b[31m"]), st.integers(0, 5000))
)


def _check(doc: dict[str, Any]) -> None:
    for key in REQUIRED:
        assert key in doc
    assert doc["log.level"] in LEVELS
    assert isinstance(doc["message"], str)
    for fmt in FORMATS:
        out = render(doc, fmt)
        assert b"\n" not in out or fmt == "text"
        if fmt != "text":
            parsed = orjson.loads(out)
            assert isinstance(parsed, dict)
            if fmt == "logstash":
                assert parsed["log"]["level"] == doc["log.level"]
                assert parsed["container"]["id"] == doc["container.id"]
                assert parsed["message"] == doc["message"]
            else:
                assert parsed["log.level"] == doc["log.level"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.tuples(_texts, st.sampled_from(["stdout", "stderr"]), st.booleans(), st.booleans()),
                      max_size=12),
       multiline=st.booleans(), strip=st.booleans(), cap=st.sampled_from([64, 1000, 1024 * 1024]),
       json_key=st.sampled_from(["", "fields", "log"]))
def test_pipeline_always_gives_renderable_records(
    texts: list[tuple[str, str, bool, bool]], multiline: bool, strip: bool, cap: int, json_key: str
) -> None:
    opts = NormaliseOptions(multiline=multiline, strip_ansi=strip, max_line_bytes=cap, json_key=json_key,
                            host_name="h", label_allowlist=("team",))
    pipeline = LogPipeline(make_container(labels={"team": "t"}), opts)
    raw = [LogLine(T0 + i, stream, text, partial, invalid, LogPosition(T0 + i, 0, "1:1", i + 1))
           for i, (text, stream, partial, invalid) in enumerate(texts)]
    records = []
    for i, line in enumerate(raw):
        records.extend(pipeline.feed(line, float(i)))
        if i % 5 == 4:
            records.extend(pipeline.flush_due(float(i) + 0.5))
    records.extend(pipeline.flush_all())
    assert not pipeline.pending
    assert sum(r.lines for r in records) == len(raw)
    for r in records:
        _check(r.doc)
        assert r.level == r.doc["log.level"] and r.stream in ("stdout", "stderr")
        assert len(r.doc["message"].encode("utf-8", "replace")) <= cap
    if records:
        assert records[-1].position == raw[-1].position
    offsets = [r.position.offset for r in records if r.position is not None]
    assert offsets == sorted(offsets)


@settings(max_examples=200)
@given(texts=st.lists(_texts, max_size=20))
def test_without_multiline_n_lines_give_n_records_in_order(texts: list[str]) -> None:
    records = run(texts, NormaliseOptions(multiline=False))
    assert len(records) == len(texts)
    assert [r.position.offset for r in records if r.position] == list(range(1, len(texts) + 1))
    assert [r.time_ns for r in records] == sorted(r.time_ns for r in records)
    for r in records:
        assert r.lines == 1


@settings(max_examples=200)
@given(obj=_json_objects, stream=st.sampled_from(["stdout", "stderr"]))
def test_json_objects_never_lose_fields(obj: dict[str, Any], stream: str) -> None:
    text = json.dumps(obj, ensure_ascii=False)
    doc = norm(text, stream)
    _check(doc)
    # Every top-level value of the application is somewhere in the record.
    rendered = orjson.loads(render(doc, "json"))
    flat = json.dumps(rendered, ensure_ascii=False)
    for value in obj.values():
        if isinstance(value, str) and value:
            assert json.dumps(value, ensure_ascii=False)[1:-1] in flat or value == doc["message"]


@settings(max_examples=200)
@given(text=_texts, stream=st.sampled_from(["stdout", "stderr"]))
def test_normalise_any_text(text: str, stream: str) -> None:
    _check(norm(text, stream))


# --- nothing dropped (issue 12) ---------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", " ", "   ", "\t", " \t "])
def test_blank_lines_are_records(blank: str) -> None:
    recs = run(["hello", blank, "world"])
    assert [r.doc["message"] for r in recs] == ["hello", blank, "world"]
    assert all("error.stack_trace" not in r.doc for r in recs)


def test_blank_lines_dropped_only_by_the_option_and_counted() -> None:
    pipeline = LogPipeline(make_container(), NormaliseOptions(drop_blank=True))
    out = []
    for i, text in enumerate(["a", "", "  ", "b", "   "]):
        out += pipeline.feed(LogLine(T0 + i, "stdout", text, position=LogPosition(T0, 0, "1:1", i + 1)), 0.0)
    out += pipeline.flush_all()
    assert [r.doc["message"] for r in out] == ["a", "b"]
    assert pipeline.counters["blank_dropped"] == 3
    assert out[-1].position == LogPosition(T0, 0, "1:1", 5)  # the checkpoint passes the dropped lines


@pytest.mark.parametrize(("text", "message"), [
    ("before \x1b]0;window title", "before "),  # unterminated OSC: ends at the end of the line
    ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ after", "link after"),  # OSC 8 hyperlink
    ("a\x1b]0;t\x07b", "ab"),
    ("x \x1bPq#0;2;0;0;0", "x "),  # unterminated DCS
    ("x \x1b_apc payload\x1b\\ y", "x  y"),
    ("\x1b[31mred\x1b[0m \x1b[1", "red "),  # CSI cut at the end of the line
    ("\x1b(Bplain\x1b7\x1b8", "plain"),
    ("end\x1b", "end"),
])
def test_escape_sequences_end_at_their_terminator_or_the_line(text: str, message: str) -> None:
    assert norm(text)["message"] == message


def test_an_escape_never_eats_past_a_newline_in_a_json_message() -> None:
    doc = norm('{"msg":"first \\u001b]0;title\\nsecond line \\u001bPx\\nthird"}')
    assert doc["message"] == "first \nsecond line \nthird"


@pytest.mark.parametrize(("text", "field", "value"), [
    ('{"msg":"m","a":NaN}', "a", "NaN"),
    ('{"msg":"m","a":Infinity}', "a", "Infinity"),
    ('{"msg":"m","a":-Infinity}', "a", "-Infinity"),
    ('{"msg":"m","a":1e400}', "a", "1e400"),
    ('{"msg":"m","a":-1E+999}', "a", "-1E+999"),
    ('{"msg":"m","a":123456789012345678901234567890}', "a", "123456789012345678901234567890"),
    ('{"msg":"m","a":-9223372036854775809}', "a", "-9223372036854775809"),

    ('{"msg":"m","a":' + "9" * 5000 + "}", "a", "9" * 5000),
    ('{"msg":"m","a":[1.5,NaN,{"b":2}]}', "a", [1.5, "NaN", {"b": 2}]),
])
def test_json_as_loggers_write_it_keeps_every_value_exactly(text: str, field: str, value: object) -> None:
    pipeline = LogPipeline(make_container(), NormaliseOptions())
    (record,) = pipeline.feed(LogLine(T0, "stdout", text, position=LogPosition(T0)), 0.0)
    assert record.doc["message"] == "m" and record.doc[field] == value
    assert pipeline.counters["json_lenient"] == 1 and pipeline.counters["json_failed"] == 0
    for fmt in FORMATS:
        out = render(record.doc, fmt)
        if fmt != "text":
            assert orjson.loads(out)[field] == value


@pytest.mark.parametrize("text", ['\ufeff{"level":"warn","msg":"m"}', ' {"level":"warn","msg":"m"}',
                                  '{"level":"warn","msg":"m"}   ', '\t{"level":"warn","msg":"m"}\t ',
                                  '\ufeff {"level":"warn","msg":"m"} '])
def test_json_with_a_bom_or_surrounding_whitespace(text: str) -> None:
    doc = norm(text)
    assert doc["message"] == "m" and doc["log.level"] == "warn"


def test_padded_json_line_is_not_a_continuation() -> None:
    recs = run(["head line", ' {"level":"warn","msg":"m"}'])
    assert [r.doc["message"] for r in recs] == ["m", "head line"] and recs[0].level == "warn"


@pytest.mark.parametrize(("text", "level"), [
    ("2026-11-25T02:18:48.123Z\twarn\tpkg/x.go:12\tslow", "warn"),  # zap console, lowercase
    ("2026-11-25T02:18:48.123Z\tERROR\tpkg/x.go:12\tboom", "error"),
    ("2026-11-25T02:18:48.123Z\tdebug\tx", "debug"),
    ("E20261125 10:00:00.123456 12345 main.cc:10] failed", "error"),  # glog with the year
    ("W20261125 10:00:00.123456 12345 main.cc:10] slow", "warn"),
    ("1:M 25 Nov 2026 02:18:48.123 # WARNING overcommit_memory is set to 0", "warn"),  # redis
    ("1:M 25 Nov 2026 02:18:48.123 * Ready to accept connections tcp", "notice"),
    ("warn: Microsoft.AspNetCore[0]", "warn"),  # .NET console
    ("fail: Microsoft.AspNetCore[1] unhandled", "error"),
    ("2026-11-25T02:18:48.123456Z 0 [Note] [MY-010116] mysqld starting", "notice"),
    ("2026-11-25T02:18:48.123456Z 0 [Warning] [MY-011070] deprecated", "warn"),
    ("2026/11/25 02:18:48 [emerg] 1#1: bind() failed", "fatal"),
    ("2026/11/25 02:18:48 [crit] 1#1: x", "critical"),
    ("NOTICE: reloading", "notice"),
])
def test_more_plain_text_levels(text: str, level: str) -> None:
    assert detect_level(text) == level


@pytest.mark.parametrize(("line", "level"), [
    ('{"level":"W","msg":"m"}', "warn"),
    ('{"level":"E","msg":"m"}', "error"),
    ('{"severity":"I","msg":"m"}', "info"),
    ('{"@t":"2026-11-25T02:18:49Z","@mt":"Hello {Name}","Name":"al","@l":"Warning"}', "warn"),
    ('{"@t":"2026-11-25T02:18:49Z","@mt":"Hello {Name}","Name":"al"}', "info"),  # Serilog: no @l is Information
    ('{"@t":"2026-11-25T02:18:49Z","@m":"x","@l":"Fatal"}', "fatal"),
    ('{"@t":"2026-11-25T02:18:49Z","@m":"x","@l":"Verbose"}', "trace"),
    ('{"level":50,"msg":"m"}', "error"),  # pino
    ('{"level":300,"level_name":"WARNING","message":"m"}', "warn"),  # monolog
    ('{"level":"WARN+2","msg":"m"}', "warn"),  # slog offsets
    ('{"level":"DEBUG-4","msg":"m"}', "debug"),
    ('{"severity":"WARNING","message":"m"}', "warn"),
    ('{"level":"CRIT","msg":"m"}', "critical"),
    ('{"level":"notice","msg":"m"}', "notice"),
    ('{"severity":2,"msg":"m"}', "critical"),  # syslog crit
    ('{"loglevel":"err","msg":"m"}', "error"),
])
def test_json_levels_of_common_loggers(line: str, level: str) -> None:
    assert norm(line, "stderr")["log.level"] == level


def test_serilog_clef_fields() -> None:
    doc = norm('{"@t":"2026-11-25T02:18:49.5Z","@mt":"Hello {Name}","@m":"Hello al","Name":"al",'
               '"@x":"System.Exception: boom\\n   at X.Y()"}')
    assert doc["message"] == "Hello al" and doc["@timestamp"] == "2026-11-25T02:18:49.500000Z"
    assert doc["error.stack_trace"].startswith("System.Exception") and doc["@mt"] == "Hello {Name}"
