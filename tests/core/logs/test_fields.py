"""The field-ownership rule and the record's JSON Schema: every record validates, whatever the line."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from observe.logs import fields
from observe.logs.fields import MAX_DEPTH, MAX_FIELDS, OWN_FIELDS, SCHEMA_FILES, record_schema, schema_text
from observe.logs.formats import render, render_batch
from observe.logs.normalise import NormaliseOptions, normalise
from observe.logs.pipeline import LogPipeline
from observe.model import LogLine, LogPosition
from tests.support.logsamples import T0, make_container

NESTED = Draft202012Validator(record_schema(True))
FLAT = Draft202012Validator(record_schema(False))


def norm(text: str, options: NormaliseOptions | None = None, stream: str = "stdout") -> dict[str, Any]:
    return normalise(text, T0, stream, make_container(labels={"team": "t"}),
                     options or NormaliseOptions(host_name="h", label_allowlist=("team",)))


def validate(doc: dict[str, Any]) -> dict[str, Any]:
    """The record in both formats as shipped, each checked against its schema; the nested one returned."""
    nested = orjson.loads(render(doc, "logstash"))
    errors = sorted(NESTED.iter_errors(nested), key=str)
    assert not errors, (errors[0].json_path, errors[0].message, nested)
    flat = orjson.loads(render(doc, "json"))
    errors = sorted(FLAT.iter_errors(flat), key=str)
    assert not errors, (errors[0].json_path, errors[0].message, flat)
    return nested  # type: ignore[no-any-return]


# --- the shipped schema -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "nested"), sorted(SCHEMA_FILES.items()))
def test_shipped_schema_is_the_generated_one(name: str, nested: bool) -> None:
    shipped = resources.files("observe.logs").joinpath(name).read_text(encoding="utf-8")
    assert shipped == schema_text(nested), "regenerate with: python3 -m observe.logs.fields"
    Draft202012Validator.check_schema(json.loads(shipped))


def test_schema_knows_every_field_a_record_can_have() -> None:
    nested = validate(norm('{"msg":"m","error":{"message":"e","type":"T","stack_trace":"s"},'
                           '"log":{"logger":"l","origin":{"function":"f","file":{"name":"x.py","line":3}}}}'))
    assert nested["error"] == {"message": "e", "type": "T", "stack_trace": "s"}
    assert nested["log"]["origin"] == {"function": "f", "file": {"name": "x.py", "line": 3}}
    flat = set(norm('{"a":' * 40 + "1" + "}" * 40, NormaliseOptions(host_name="h")))
    assert {"observe.app_json", "observe.app_overflow", "host.name"} <= flat <= set(OWN_FIELDS)


def test_schema_refuses_what_elasticsearch_refuses() -> None:
    good = orjson.loads(render(norm("x"), "logstash"))
    assert NESTED.is_valid(good)
    for bad in ({"log": "text"}, {"container": {"image": "a:b"}}, {"_id": 1}, {"": 1}, {"a.b": 1}, {" ": 1},
                {"error": "x"}, {"x": {"a..b": 1}}, {"host": {"name": {"first": "a"}}}):
        assert not NESTED.is_valid({**good, **bad}), bad
    deep: Any = 1
    for _ in range(MAX_DEPTH + 1):
        deep = {"a": deep}
    assert not NESTED.is_valid({**good, "x": deep})


# --- the ownership rule -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["error", "err", "exception"])
def test_an_error_string_becomes_error_message(key: str) -> None:
    doc = norm('{"level":"error","msg":"query failed","' + key + '":"connection refused"}')
    assert doc["error.message"] == "connection refused" and key not in doc
    assert validate(doc)["error"] == {"message": "connection refused"}


def test_error_objects_of_ecs_and_pino() -> None:
    doc = norm('{"msg":"m","err":{"type":"Error","message":"boom","stack":"Error: boom\\n    at x","code":"E1"}}')
    assert (doc["error.type"], doc["error.message"], doc["error.stack_trace"]) == ("Error", "boom",
                                                                                   "Error: boom\n    at x")
    assert doc["err"] == {"code": "E1"}  # not ours: the rest stays where it was
    doc = norm('{"msg":"m","error":{"message":"boom","kind":"io"}}')
    assert doc["error.message"] == "boom" and doc["app_error"] == {"kind": "io"}
    validate(doc)


@pytest.mark.parametrize("key", ["stack_trace", "stacktrace", "exc_info", "@x"])
def test_stack_keys_become_error_stack_trace(key: str) -> None:
    doc = norm('{"msg":"m","' + key + '":"Traceback (most recent call last):\\n  x"}')
    assert doc["error.stack_trace"].startswith("Traceback") and key not in doc


def test_an_error_of_another_type_is_kept_under_a_prefix() -> None:
    for value in ("42", "true", "null", '["a"]', '{"code":5}'):
        doc = norm('{"msg":"m","error":' + value + "}")
        assert doc["app_error"] == json.loads(value) and "error.message" not in doc
        validate(doc)


def test_first_error_wins_and_the_second_is_kept() -> None:
    doc = norm('{"msg":"m","error":"first","err":"second"}')
    assert doc["error.message"] == "first" and doc["err"] == "second"


def test_dotted_app_keys_are_expanded_before_the_check() -> None:
    doc = norm('{"msg":"m","container.image":"evil:1","host.name.first":"a","error.stack_trace":["x"],'
               '"a.b":1,"a.c":{"d":2},"observe.time_ns":"soon"}')
    nested = validate(doc)
    assert nested["container"]["image"] == {"name": "shop/web", "tag": "2"}
    assert doc["app_container"] == {"image": "evil:1"}
    assert doc["app_host"] == {"name": {"first": "a"}}
    assert doc["app_error"] == {"stack_trace": ["x"]}
    assert doc["app_observe"] == {"time_ns": "soon"} and doc["observe.time_ns"] == T0
    assert doc["a"] == {"b": 1, "c": {"d": 2}}


def test_colliding_app_keys_are_renamed_not_lost() -> None:
    doc = norm('{"msg":"m","a":1,"a.b":2,"x":{"y":1},"x.y":3,"x.z":4,"app_a_b":"mine"}')
    assert doc["a"] == 1 and doc["app_a_b"] == 2 and doc["app_app_a_b"] == "mine"  # first come keeps the name
    assert doc["x"] == {"y": 1, "z": 4} and doc["app_x_y"] == 3
    validate(doc)


@pytest.mark.parametrize(("key", "renamed"), [("_id", "app__id"), ("_source", "app__source"), ("", "app_"),
                                              ("  ", "app_  "), ("a..b", "app_a__b"), (".a", "app__a"),
                                              ("a.", "app_a_"), ("\t", "app_\t")])
def test_names_elasticsearch_refuses_are_renamed(key: str, renamed: str) -> None:
    doc = norm(json.dumps({"msg": "m", key: 1, "nested": {key: 2}}))
    assert doc[renamed] == 1
    nested_key = renamed if key != "_id" and key != "_source" else key  # underscores are refused at the top only
    assert doc["nested"] == {nested_key: 2}
    validate(doc)


@pytest.mark.parametrize("text", [
    json.dumps({f"k{i}": i for i in range(MAX_FIELDS + 1)}),
    json.dumps({"k": [{"a": i} for i in range(MAX_FIELDS)]}),
    '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
    json.dumps({".".join(["a"] * (MAX_DEPTH + 1)): 1}),
    '{"a":' * 300 + "1" + "}" * 300,
])
def test_too_wide_or_too_deep_is_kept_as_one_string(text: str) -> None:
    pipeline = LogPipeline(make_container(), NormaliseOptions())
    (record,) = pipeline.feed(LogLine(T0, "stdout", text, position=LogPosition(T0)), 0.0)
    assert record.doc["observe.app_json"] == text and record.doc["observe.app_overflow"] is True
    assert pipeline.counters["fields_overflow"] == 1
    assert len(record.doc) < 20
    validate(record.doc)


def test_just_within_the_bounds_is_spread() -> None:
    doc = norm(json.dumps({f"k{i}": i for i in range(MAX_FIELDS)}))
    assert "observe.app_overflow" not in doc and doc["k999"] == 999
    doc = norm('{"a":' * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1))
    assert "observe.app_overflow" not in doc
    validate(doc)


def test_json_key_is_renamed_when_it_is_ours_or_refused() -> None:
    for key, used in (("fields", "fields"), ("log", "app_log"), ("_x", "app__x"), ("a.b", "app_a_b")):
        doc = norm('{"msg":"m","a.b":1,"error":"e"}', NormaliseOptions(json_key=key))
        assert doc[used] == {"a": {"b": 1}, "error": "e"}
        validate(doc)


def test_tidy_returns_a_clean_object_itself() -> None:
    obj = {"a": 1, "b": {"c": [1, {"d": 2}]}}
    assert fields.tidy(obj) is obj


# --- property: every record validates ---------------------------------------------------------

_odd_keys = st.sampled_from([
    "msg", "message", "log", "level", "time", "@timestamp", "@version", "stream", "container", "container.image",
    "container.image.name", "container.labels", "host", "host.name", "host.name.first", "service", "service.name",
    "observe", "observe.time_ns", "observe.app_json", "error", "error.message", "error.stack_trace", "err",
    "exception", "stack_trace", "@x", "@l", "@m", "@t", "log.level", "log.logger", "log.origin.file.line", "_id",
    "_source", "", " ", "\t", "a..b", ".a", "a.", "a", "a.b", "a.b.c", "app_a", "app_log", "x.y", "\x00",
])
_keys = _odd_keys | st.text(max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=25,
)
_objects = st.dictionaries(_keys, _values, max_size=10)


def _as_line(obj: dict[str, Any], pad: str) -> str:
    return pad + json.dumps(obj, ensure_ascii=False, allow_nan=True) + pad.strip("\ufeff")


_lines = (
    st.text(max_size=200)
    | st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace"))
    | st.builds(_as_line, _objects, st.sampled_from(["", " ", "\ufeff", "\t "]))
    | st.sampled_from(["", "   ", "\x1b]0;title", "\x1bPq", "{\"a\": NaN}", "{\"a\": 1e400}",
                       '{"n": 123456789012345678901234567890}', "\tat x.Y(Y.java:1)",
                       "Traceback (most recent call last):"])
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.tuples(_lines, st.sampled_from(["stdout", "stderr"])), max_size=8),
       json_key=st.sampled_from(["", "fields", "log"]), multiline=st.booleans())
def test_every_record_validates_against_the_schema(texts: list[tuple[str, str]], json_key: str,
                                                    multiline: bool) -> None:
    opts = NormaliseOptions(json_key=json_key, multiline=multiline, host_name="h", label_allowlist=("team",))
    pipeline = LogPipeline(make_container(labels={"team": "t"}), opts)
    records = []
    for i, (text, stream) in enumerate(texts):
        records += pipeline.feed(LogLine(T0 + i, stream, text, position=LogPosition(T0 + i, 0, "1:1", i + 1)), 0.0)
    records += pipeline.flush_all()
    assert sum(r.lines for r in records) == len(texts)
    for r in records:
        validate(r.doc)
    if records:
        batch = render_batch([r.doc for r in records], "logstash").splitlines()
        assert all(NESTED.is_valid(orjson.loads(b)) for b in batch)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=_objects)
def test_an_app_object_never_retypes_our_fields(obj: dict[str, Any]) -> None:
    doc = norm(json.dumps(obj, allow_nan=True))
    nested = validate(doc)
    assert nested["container"]["image"] == {"name": "shop/web", "tag": "2"}
    assert nested["service"] == {"name": "web-1"} and nested["host"] == {"name": "h"}
    assert nested["observe"]["time_ns"] == T0 and nested["stream"] == "stdout"
