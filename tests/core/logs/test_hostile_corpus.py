"""A hostile corpus written by a real container through `observe run`: nothing lost, nothing mistyped.

Every line is written by one ``printf`` in busybox sh; the test knows how many raw lines went
in and checks that exactly that many are represented in the output (a record holds one raw
line, or one per line of its ``error.stack_trace``), that every class came out as the rule
says, and that every record validates against the shipped schema of its format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from observe.logs.fields import MAX_FIELDS
from tests.conftest import Containers
from tests.support.collector_run import CollectorProcess
from tests.support.waiting import wait_for

pytestmark = pytest.mark.engine

DEEP = '{"msg":"deep1","x":' + '{"a":' * 100 + "1" + "}" * 100 + "}"
WIDE = '{"msg":"wide1",' + ",".join(f'"k{i}":{i}' for i in range(MAX_FIELDS + 200)) + "}"

# (stream, the line's exact text)
CORPUS: list[tuple[str, str]] = [
    ("stdout", "start1"),
    # blank lines
    ("stdout", ""), ("stdout", "   "), ("stdout", "\t"),
    # escapes that are never closed
    ("stdout", "osc1 \x1b]0;window title"), ("stdout", "dcs1 \x1bPq#0;2"), ("stdout", "apc1 \x1b_x\x1b\\ tail"),
    # JSON as loggers write it
    ("stdout", '{"msg":"nan1","v":NaN}'), ("stdout", '{"msg":"inf1","v":-Infinity}'),
    ("stdout", '{"msg":"huge1","v":1e400}'), ("stdout", '{"msg":"int1","v":123456789012345678901234567890}'),
    ("stdout", '\ufeff{"msg":"bom1","level":"warn"}'), ("stdout", ' {"msg":"lead1","level":"warn"}'),
    ("stdout", '{"msg":"trail1","level":"warn"}   '),
    # level words
    ("stdout", "W1201 08:59:37.123456       1 main.go:10] klogw1"),
    ("stdout", "E1201 08:59:37.123456       1 main.go:11] kloge1"),
    ("stdout", "2026-12-01T08:59:37.123Z\twarn\tpkg/x.go:12\tzapwarn1"),
    ("stdout", '{"@t":"2026-12-01T08:59:37Z","@mt":"serilog1 {X}","@l":"Warning","X":1}'),
    ("stdout", '{"@t":"2026-12-01T08:59:37Z","@mt":"serilog2 {X}","X":2}'),
    ("stdout", '{"level":40,"msg":"pino1"}'), ("stdout", '{"level":"W","msg":"letter1"}'),
    ("stdout", "<4>syslog1"), ("stdout", "CRIT crit1"), ("stdout", "[notice] notice1"),
    # field ownership
    ("stdout", '{"msg":"own1","error":"connection refused"}'),
    ("stdout", '{"msg":"own2","container.image":"evil:1","host.name.first":"a","_id":"x","":1,"a..b":2,'
               '"log":"text","service":7,"observe":{"time_ns":"soon"},"message":["m"]}'),
    ("stdout", DEEP), ("stdout", WIDE),
    # a Java trace on stderr interleaved with stdout lines
    ("stderr", "java.lang.IllegalStateException: jtrace1"), ("stdout", "between1"),
    ("stderr", "\tat a.B.c(B.java:1)"), ("stdout", "between2"),
    ("stderr", "\tat a.B.d(B.java:2)"), ("stdout", "between3"),
    ("stderr", "\tat a.B.e(B.java:3)"),
    # a traceback cut short by a header line
    ("stderr", "Traceback (most recent call last):"), ("stderr", '  File "x.py", line 1, in <module>'),
    ("stderr", "2026-12-01 08:59:37,123 INFO cut1 next request"),
    # a trace interrupted by a JSON line of the same stream, then a blank line
    ("stdout", "java.lang.RuntimeException: jtrace2"), ("stdout", "\tat x.Y.a(Y.java:1)"),
    ("stdout", '{"msg":"tick1"}'), ("stdout", "\tat x.Y.b(Y.java:2)"), ("stdout", "   "),
    ("stdout", "after2"),
    ("stderr", "last-err"), ("stdout", "last-out"),
]


def _printf(text: str) -> str:
    """A busybox ``printf`` format writing exactly ``text`` and a newline."""
    out = []
    for byte in text.encode():
        ch = chr(byte)
        if ch == "%":
            out.append("%%")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("'\\''")
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "printf '" + "".join(out) + "\\n'"


SCRIPT = "\n".join(_printf(text) + (" >&2" if stream == "stderr" else "") for stream, text in CORPUS) + "\nsleep 600\n"


def raw_lines(record: dict[str, Any], flat: bool) -> int:
    trace = record.get("error.stack_trace") if flat else record.get("error", {}).get("stack_trace")
    return trace.count("\n") + 1 if trace and record.get("observe.app_json") is None else 1


@pytest.fixture
def schema_for() -> Iterator[dict[str, Draft202012Validator]]:
    files = resources.files("observe.logs")
    yield {fmt: Draft202012Validator(json.loads(files.joinpath(name).read_text(encoding="utf-8")))
           for fmt, name in (("logstash", "record.schema.json"), ("json", "record.flat.schema.json"))}


@pytest.mark.parametrize(("reader", "fmt"), [("json-file", "logstash"), ("json-file", "json"), ("api", "logstash")])
def test_hostile_corpus_nothing_lost_everything_valid(tmp_path: Path, containers: Containers, reader: str,
                                                       fmt: str, schema_for: dict[str, Draft202012Validator]) -> None:
    collector = CollectorProcess(tmp_path, containers.test_id, "--output-format", fmt, reader=reader)
    flat = fmt == "json"
    name = containers.name("hostile")

    def mine() -> list[dict[str, Any]]:
        return [r for r in collector.records()
                if (r.get("container.name") if flat else r.get("container", {}).get("name")) == name]

    try:
        containers.run("hostile", SCRIPT)
        collector.start()
        wait_for(lambda: {"last-err", "last-out"} <= {r["message"] for r in mine()}, f"the last lines of {name}",
                 timeout=60)
        wait_for(lambda: sum(raw_lines(r, flat) for r in mine()) >= len(CORPUS), "every raw line represented",
                 timeout=10)
        records = mine()
        validator = schema_for[fmt]
        for r in records:
            errors = list(validator.iter_errors(r))
            assert not errors, (errors[0].json_path, errors[0].message, r)
        assert sum(raw_lines(r, flat) for r in records) == len(CORPUS)
        by_message: dict[str, dict[str, Any]] = {}
        for r in records:
            by_message.setdefault(r["message"], r)

        def level(message: str) -> str:
            r = by_message[message]
            return str(r["log.level"] if flat else r["log"]["level"])

        def field(r: dict[str, Any], path: str) -> Any:
            if flat and path in r:
                return r[path]
            node: Any = r
            for part in path.split("."):
                node = node[part]
            return node

        messages = [r["message"] for r in records]
        assert sorted(m for m in messages if not m.strip()) == sorted(["", "   ", "\t", "   "])
        assert {"osc1 ", "dcs1 ", "apc1  tail"} <= set(messages)
        assert field(by_message["nan1"], "v") == "NaN" and field(by_message["inf1"], "v") == "-Infinity"
        assert field(by_message["huge1"], "v") == "1e400"
        assert field(by_message["int1"], "v") == "123456789012345678901234567890"
        assert [level(m) for m in ("bom1", "lead1", "trail1")] == ["warn"] * 3
        texts = dict((text.rsplit(None, 1)[-1], text) for _, text in CORPUS if text.strip())
        assert [level(m) for m in (texts["klogw1"], texts["kloge1"], texts["zapwarn1"], "serilog1 {X}", "serilog2 {X}",
                                   "pino1", "letter1", "<4>syslog1", "CRIT crit1", "[notice] notice1")] == [
            "warn", "error", "warn", "warn", "info", "warn", "warn", "warn", "critical", "notice"]
        assert level(texts["zapwarn1"]) == "warn"  # zap console
        assert field(by_message["own1"], "error.message") == "connection refused"
        own2 = by_message["own2"]
        assert field(own2, "app_container") == {"image": "evil:1"} and field(own2, "app_host") == {
            "name": {"first": "a"}}
        assert field(own2, "app__id") == "x" and field(own2, "app_") == 1 and field(own2, "app_a__b") == 2
        assert field(own2, "app_log") == "text" and field(own2, "app_service") == 7
        assert field(own2, "app_message") == ["m"]
        for m in ("deep1", "wide1"):
            assert field(by_message[m], "observe.app_overflow") is True
        assert field(by_message["wide1"], "observe.app_json") == WIDE
        jtrace1 = by_message["java.lang.IllegalStateException: jtrace1"]
        assert field(jtrace1, "error.stack_trace").count("\n") == 3 and level(jtrace1["message"]) == "error"
        assert {"between1", "between2", "between3"} <= set(messages)
        assert field(by_message["Traceback (most recent call last):"], "error.stack_trace").count("\n") == 1
        assert level("2026-12-01 08:59:37,123 INFO cut1 next request") == "info"
        jtrace2 = by_message["java.lang.RuntimeException: jtrace2"]
        assert field(jtrace2, "error.stack_trace").count("\n") == 2 and "tick1" in messages
        assert not any(m.startswith("\tat") for m in messages)
        assert len([m for m in messages if m.strip()]) == len(set(m for m in messages if m.strip()))
    finally:
        collector.close()
