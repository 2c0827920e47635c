from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observe.logs.formats import FORMATS, nest, render, render_batch, render_lines
from observe.logs.normalise import NormaliseOptions, normalise
from tests.support.logsamples import T0, make_container


def sample(**kw: Any) -> dict[str, Any]:
    c = make_container("web-1", labels={"team": "payments"})
    return normalise("2026-11-25 02:18:48,123 ERROR [main] c.e.App - boom", T0, "stderr", c,
                     NormaliseOptions(host_name="node-1", label_allowlist=("team",)), **kw)


def test_logstash_nests_the_ecs_keys() -> None:
    doc = sample(stack_trace="boom\n\tat x")
    out = orjson.loads(render(doc, "logstash"))
    assert out["@timestamp"] == "2026-11-25T02:18:48.123456Z" and out["@version"] == "1"
    assert out["log"] == {"level": "error"}
    assert out["container"] == {"id": "c" * 64, "name": "web-1", "image": {"name": "shop/web", "tag": "2"},
                                "labels": {"team": "payments"}}
    assert out["service"] == {"name": "web-1"} and out["host"] == {"name": "node-1"}
    assert out["observe"] == {"time_ns": T0} and out["error"] == {"stack_trace": "boom\n\tat x"}
    assert out["stream"] == "stderr"
    assert list(out)[:3] == ["@timestamp", "@version", "message"]


def test_json_is_flat() -> None:
    doc = sample()
    out = orjson.loads(render(doc, "json"))
    assert out == doc
    assert out["container.image.name"] == "shop/web" and out["container.labels"] == {"team": "payments"}


def test_app_fields_keep_their_shape() -> None:
    doc = normalise('{"msg":"x","http":{"status":200},"a.b":1,"log":{"logger":"l"}}', T0, "stdout",
                    make_container(), NormaliseOptions())
    out = orjson.loads(render(doc, "logstash"))
    assert out["http"] == {"status": 200} and out["a"] == {"b": 1}  # dotted keys expanded, as Elasticsearch reads them
    assert out["log"] == {"level": "info", "logger": "l"}  # log.logger is where ECS puts it


def test_nest_never_loses_a_value_on_clashes() -> None:
    out = nest({"log": "app text", "log.level": "info", "container.id": "x", "container": 5})
    assert out["log"] == "app text" and out["log.level"] == "info"
    assert out["container"] == {"id": "x"} and out["container_"] == 5


def test_text_format() -> None:
    doc = sample()
    assert render(doc, "text") == (
        b"2026-11-25T02:18:48.123456Z web-1 ERROR 2026-11-25 02:18:48,123 ERROR [main] c.e.App - boom")
    info = dict(doc, **{"log.level": "info", "message": "hello"})
    assert render(info, "text") == b"2026-11-25T02:18:48.123456Z web-1 INFO  hello"
    colored = render(info, "text", color=True)
    assert colored == b"2026-11-25T02:18:48.123456Z web-1 \x1b[32mINFO \x1b[0m hello"
    assert render(dict(doc, **{"log.level": "warn"}), "text", color=True).count(b"\x1b[33m") == 1


def test_text_format_shows_the_trace_once() -> None:
    doc = dict(sample(), message="java.lang.X: y", **{"error.stack_trace": "java.lang.X: y\n\tat a.B(B.java:1)"})
    assert render(doc, "text").endswith(b"ERROR java.lang.X: y\n\tat a.B(B.java:1)")
    py = dict(doc, message="KeyError: 'k'", **{"error.stack_trace": "Traceback (most recent call last):\n"
                                                                   "  File \"x\"\nKeyError: 'k'"})
    assert render(py, "text").endswith(b"KeyError: 'k'\nTraceback (most recent call last):\n  File \"x\"")


def test_render_batch_matches_render() -> None:
    docs = [sample(), dict(sample(), message="second")]
    for fmt in FORMATS:
        assert render_batch(docs, fmt) == b"".join(render(d, fmt) + b"\n" for d in docs)
        assert render_lines(docs, fmt) == [render(d, fmt) + b"\n" for d in docs]
    assert render_batch([], "json") == b""


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        render(sample(), "xml")
    with pytest.raises(ValueError, match="unknown log format"):
        render_batch([sample()], "xml")


def test_odd_values_still_render() -> None:
    doc = dict(sample(), weird="\ud800 lone surrogate", when=datetime(2026, 1, 2, tzinfo=UTC), big=2**70,
               obj=object(), deep=[[[["x"]]]])
    for fmt in FORMATS:
        out = render(doc, fmt)
        if fmt != "text":
            parsed = orjson.loads(out)
            assert parsed["weird"] == "? lone surrogate" and parsed["big"] == str(2**70)
            assert parsed["when"].startswith("2026-01-02") and parsed["deep"] == [[[["x"]]]]
        assert render_batch([doc, doc], fmt).count(b"\n") >= 2


@settings(max_examples=200)
@given(doc=st.dictionaries(st.text(max_size=20), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=10),
    max_size=10))
def test_any_mapping_renders(doc: dict[str, Any]) -> None:
    for fmt in ("json", "logstash"):
        assert isinstance(orjson.loads(render(doc, fmt)), dict)
    render(doc, "text")


def test_nest_never_changes_the_callers_objects() -> None:
    app_log = {"logger": "x"}
    doc = {"log": app_log, "log.level": "info", "container.image.name": "a", "container": {"image": {}}}
    out = nest(doc)
    assert app_log == {"logger": "x"} and doc["container"] == {"image": {}}
    assert out["log"] == {"logger": "x"} and out["log.level"] == "info"
    assert orjson.loads(render(doc, "logstash")) == orjson.loads(orjson.dumps(out))


@settings(max_examples=300)
@given(doc=st.dictionaries(
    st.sampled_from(["log.level", "log", "container.id", "container", "container.image.name", "container.image.tag",
                     "container.labels", "observe.time_ns", "message", "@timestamp", "error.stack_trace", "error",
                     "log_", "x.y"]) | st.text(max_size=8),
    st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5)
    | st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
    max_size=12))
def test_compiled_nesting_matches_nest(doc: dict[str, Any]) -> None:
    from observe.logs.formats import _nest_fast

    expected = orjson.dumps(nest(doc))
    assert orjson.dumps(_nest_fast(doc)) == expected
    assert orjson.dumps(_nest_fast(doc)) == expected  # the second time through a compiled plan
    assert render(doc, "logstash") == expected


def test_compiled_nesting_with_awkward_keys() -> None:
    from observe.logs.formats import _nest_fast

    doc = {"log.level": "info", "'); import os; ('": 1, '"\n\\': 2, "é😀": 3, "log": 4}
    for _ in range(3):
        assert _nest_fast(doc) == nest(doc)
    assert nest(doc)["log_"] == 4 and nest(doc)["'); import os; ('"] == 1


def test_nest_plans_stay_bounded_in_bytes_with_ever_changing_layouts() -> None:
    from observe.logs import formats

    base = {"@timestamp": "t", "message": "m", "log.level": "info", "container.id": "c"}
    for i in range(3000):
        wide = {**base, **{f"k{i}_{j}" + "x" * 40: j for j in range(i % 200)}}
        for _ in range(2):  # a layout is compiled the second time it is seen
            assert formats.nest(wide) == orjson.loads(render(wide, "logstash"))
    assert len(formats._plans) <= formats._MAX_PLANS and len(formats._seen) <= formats._MAX_SEEN
    assert all(len(keys) <= formats._MAX_LAYOUT_KEYS and sum(map(len, keys)) <= formats._MAX_LAYOUT_CHARS
               for keys in formats._plans)
    narrow = {**base, "x": 1}
    render(narrow, "logstash")
    render(narrow, "logstash")
    assert tuple(narrow) in formats._plans  # the cache still takes new layouts once full
