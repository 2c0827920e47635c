"""The record's own fields, the ownership rule for an application's JSON fields, and the record's JSON Schema. Pure.

One table, ``OWN_FIELDS``, lists every field observe writes (flat dotted name -> JSON Schema of
its value). The formats nest exactly these names, ``record_schema`` is generated from it, and
the normaliser applies the rule below to every JSON application line.

The rule (why: Elasticsearch rejects a whole document whose field has another type than the
index mapping, or a name it refuses, so one odd line must not cost a record):

1. An application object's dotted keys are expanded first (``{"a.b": 1}`` is ``{"a": {"b": 1}}``,
   as Elasticsearch reads it), at every depth, merging into objects of the same name.
2. Names Elasticsearch refuses are renamed ``app_<name>`` (dots made ``_``): empty or
   whitespace-only names, names with an empty dotted part (``a..b``, ``.a``, ``a.``), and at
   the top level names starting with ``_`` (``_id``, ``_source`` and the other metadata names).
   A key that collides with one already there (``{"a": 1, "a.b": 2}``) is renamed the same way.
3. The top-level names observe owns (``@timestamp``, ``@version``, ``message``, ``stream`` and
   the objects ``log``, ``error``, ``container``, ``service``, ``host``, ``observe``) never take
   an application value: an application value goes where ECS puts it when it has the ECS
   type (``ADOPTED``: ``error`` / ``err`` / ``exception`` as a string -> ``error.message``;
   ``{"error": {"message", "type", "stack_trace"}}`` and pino's ``err.stack``;
   ``log.logger``, ``log.origin.*``; ``stack_trace`` / ``stacktrace`` / ``exc_info`` / Serilog's
   ``@x`` -> ``error.stack_trace``), else under ``app_<name>`` (``app_`` added again while
   that is taken). A field observe already wrote always wins.
4. An application object of more than ``MAX_FIELDS`` keys (all depths) or more than
   ``MAX_DEPTH`` levels of nesting is not spread into the record: the line is kept whole as
   one string, ``observe.app_json``, and flagged ``observe.app_overflow: true``.

So every field of ``OWN_FIELDS`` has one type in every record, and every other name is one
Elasticsearch accepts. ``record.schema.json`` (logstash, nested) and ``record.flat.schema.json``
(json, flat dotted keys) beside this module are ``record_schema()`` written out; regenerate
them with ``python3 -m observe.logs.fields``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from observe.model import LEVELS

MAX_FIELDS = 1000
"""Keys an application object may spread into a record (Elasticsearch's default field limit)."""
MAX_DEPTH = 16
"""Levels of nesting an application object may have (Elasticsearch's default depth limit is 20)."""

_STR: dict[str, Any] = {"type": "string"}
_TRUE: dict[str, Any] = {"const": True}

OWN_FIELDS: dict[str, dict[str, Any]] = {
    "@timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"},
    "@version": {"const": "1"},
    "message": _STR,
    "log.level": {"enum": list(LEVELS)},
    "log.logger": _STR,
    "log.origin.function": _STR,
    "log.origin.file.name": _STR,
    "log.origin.file.line": {"type": "integer"},
    "log.truncated": _TRUE,
    "log.invalid_utf8": _TRUE,
    "stream": {"enum": ["stdout", "stderr"]},
    "container.id": _STR,
    "container.name": _STR,
    "container.image.name": _STR,
    "container.image.tag": _STR,
    "container.labels": {"type": "object", "additionalProperties": _STR},
    "service.name": _STR,
    "host.name": _STR,
    "error.message": _STR,
    "error.type": _STR,
    "error.stack_trace": _STR,
    "observe.time_ns": {"type": "integer"},
    "observe.app_json": _STR,
    "observe.app_overflow": _TRUE,
    "observe.truncated_bytes": {"type": "integer", "minimum": 1},
}
"""Every field observe writes, flat dotted name -> JSON Schema of its value."""

REQUIRED = ("@timestamp", "@version", "message", "log.level", "stream", "container.id", "container.name",
            "container.image.name", "container.image.tag", "service.name", "observe.time_ns")
"""Fields in every record."""

OWNED_NAMES = frozenset(key.split(".", 1)[0] for key in OWN_FIELDS)
"""Top-level names no application value takes as it came."""

DOTTED = tuple(key for key in OWN_FIELDS if "." in key)
"""The own fields the logstash format nests."""

# Application value -> the ECS field it fills when it has the field's type, by (top-level key, sub-path).
# An empty sub-path is the value itself.
ADOPTED: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "error": (((), "error.message"), (("message",), "error.message"), (("type",), "error.type"),
              (("stack_trace",), "error.stack_trace"), (("stack",), "error.stack_trace")),
    "err": (((), "error.message"), (("message",), "error.message"), (("type",), "error.type"),
            (("stack",), "error.stack_trace"), (("stack_trace",), "error.stack_trace")),
    "exception": (((), "error.message"), (("message",), "error.message"), (("type",), "error.type"),
                  (("stack_trace",), "error.stack_trace")),
    "stack_trace": (((), "error.stack_trace"),),
    "stacktrace": (((), "error.stack_trace"),),
    "exc_info": (((), "error.stack_trace"),),
    "@x": (((), "error.stack_trace"),),
    "log": ((("logger",), "log.logger"), (("origin", "function"), "log.origin.function"),
            (("origin", "file", "name"), "log.origin.file.name"), (("origin", "file", "line"), "log.origin.file.line")),
}

CLAIMED = OWNED_NAMES | frozenset(ADOPTED)
"""Top-level application keys the rule looks at (any other passes as it came)."""

_PY_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,)}


class Overflow(Exception):
    """An application object over ``MAX_FIELDS`` keys or ``MAX_DEPTH`` levels."""


class BigNumber(Exception):
    """A float of 2**63 or more in magnitude: maybe an integer the parser could not hold exactly."""


_BIG = 9.2e18


def _blank(key: str) -> bool:
    """A name Elasticsearch refuses for being empty or only whitespace (and C0 controls)."""
    return all(c <= " " or c.isspace() for c in key)


def _bad(key: str) -> bool:
    """An empty or blank name, or one with an empty dotted part."""
    if _blank(key):
        return True
    return "." in key and any(_blank(part) for part in key.split("."))


def free_name(key: str, taken: Mapping[str, Any]) -> str:
    """``app_<key>`` with dots made ``_``, and ``app_`` added again while the name is taken."""
    name = "app_" + key.replace(".", "_")
    while name in taken:
        name = "app_" + name
    return name


def tidy(obj: dict[str, Any], top: bool = True, depth: int = 1, budget: list[Any] | None = None,
         floats: bool = False) -> dict[str, Any]:
    """``obj`` with dotted keys expanded and refused names renamed (rules 1 and 2), at every depth.

    Returns ``obj`` itself when nothing needed changing (the common case: one pass over the
    keys), else a new object; nested objects may be changed in place (they come from a parse).
    With ``floats``, also checks that no float is 2**63 or more in magnitude (orjson reads an
    integer beyond 64 bits as a float, losing digits: the caller parses such a line again).

    Raises:
        Overflow: more than ``MAX_FIELDS`` keys in all, or more than ``MAX_DEPTH`` levels.
        BigNumber: ``floats`` and such a float.
    """
    if budget is None:
        budget = [MAX_FIELDS, floats]
    budget[0] -= len(obj)
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise Overflow
    dirty = False
    fixed: dict[str, Any] | None = None
    for key, value in obj.items():
        first = key[:1]  # a dotted, blank or (at the top) underscored name; inline: runs for every key
        work = first <= " " or "." in key or (top and first == "_") or (first > "~" and first.isspace())
        if work:
            dirty = True
        t = type(value)
        if t is float:
            if budget[1] and not -_BIG < value < _BIG:
                raise BigNumber
        elif t is dict or t is list:
            below = depth + 1 + (key.count(".") if work else 0)  # where the value sits once expanded
            new: Any = tidy(value, False, below, budget) if t is dict else _tidy_list(value, below, budget)
            if new is not value:
                if fixed is None:
                    fixed = {}
                fixed[key] = new
    if not dirty:
        if fixed:
            obj.update(fixed)
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if fixed is not None and key in fixed:
            value = fixed[key]
        _insert(out, key, value, top, depth, budget)
    return out


def _tidy_list(items: list[Any], depth: int, budget: list[Any]) -> list[Any]:
    if depth > MAX_DEPTH:
        raise Overflow
    budget[0] -= len(items)
    if budget[0] < 0:
        raise Overflow
    out: list[Any] | None = None
    for i, value in enumerate(items):
        t = type(value)
        if t is float:
            if budget[1] and not -_BIG < value < _BIG:
                raise BigNumber
            continue
        if t is dict:
            new: Any = tidy(value, False, depth + 1, budget)
        elif t is list:
            new = _tidy_list(value, depth + 1, budget)
        else:
            continue
        if new is not value:
            if out is None:
                out = list(items)
            out[i] = new
    return items if out is None else out


def _insert(out: dict[str, Any], key: str, value: Any, top: bool, depth: int, budget: list[Any]) -> None:
    """Put one (already tidied) value into ``out`` under ``key``, expanding its dots."""
    if _bad(key) or (top and key[:1] == "_"):
        out[free_name(key, out)] = value
        return
    if "." not in key:
        _place(out, key, value, out, key)
        return
    parts = key.split(".")
    if depth + len(parts) - 1 > MAX_DEPTH:
        raise Overflow
    budget[0] -= len(parts) - 1
    if budget[0] < 0:
        raise Overflow
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif type(child) is not dict:
            out[free_name(key, out)] = value
            return
        node = child
    _place(node, parts[-1], value, out, key)


def _place(node: dict[str, Any], leaf: str, value: Any, out: dict[str, Any], key: str) -> None:
    """``node[leaf] = value``, merging objects; a clash goes to ``out`` under a free name."""
    here = node.get(leaf, _MISSING)
    if here is _MISSING:
        node[leaf] = value
    elif type(here) is dict and type(value) is dict:
        for k, v in value.items():
            _place(here, k, v, out, f"{key}.{k}")
    else:
        out[free_name(key, out)] = value


_MISSING = object()


def claim(extra: dict[str, Any], doc: dict[str, Any]) -> None:
    """Apply rule 3 to a tidied top-level application object: ECS values into ``doc``, the rest renamed.

    ``extra`` is changed in place; ``doc`` gains the adopted fields it did not have yet.
    """
    for key in [k for k in extra if k in CLAIMED]:
        value = extra.pop(key)
        rules = ADOPTED.get(key)
        if rules is not None:
            value = _adopt(value, rules, doc)
            if value is _MISSING:
                continue
        if key in OWNED_NAMES or key in doc:
            extra[free_name(key, extra)] = value
        else:
            extra[key] = value


def _adopt(value: Any, rules: tuple[tuple[tuple[str, ...], str], ...], doc: dict[str, Any]) -> Any:
    """Move the parts of ``value`` that fit an ECS field into ``doc``; what is left (``_MISSING`` if nothing)."""
    for path, target in rules:
        if target in doc:
            continue
        types = _PY_TYPES[OWN_FIELDS[target]["type"]]
        if not path:
            if type(value) in types:
                doc[target] = value
                return _MISSING
            continue
        node = value
        for part in path[:-1]:
            node = node.get(part) if type(node) is dict else None
        if type(node) is not dict:
            continue
        leaf = node.get(path[-1], _MISSING)
        if type(leaf) in types:
            doc[target] = leaf
            del node[path[-1]]
            _prune(value, path[:-1])
    if type(value) is dict and not value:
        return _MISSING
    return value


def _prune(value: dict[str, Any], path: tuple[str, ...]) -> None:
    """Remove the objects along ``path`` that adopting left empty, deepest first."""
    for i in range(len(path), 0, -1):
        node: Any = value
        for part in path[: i - 1]:
            node = node[part]
        if node[path[i - 1]] == {}:
            del node[path[i - 1]]


# --- the schema -------------------------------------------------------------------------------

_WS_NAME = r"^[\s\u0000-\u001f]*$"


def _app_defs() -> dict[str, Any]:
    """``app1`` .. ``app<MAX_DEPTH + 1>``: an application value with at most that many levels below."""
    defs: dict[str, Any] = {
        "name": {"type": "string", "pattern": r"^[^.]+$", "not": {"pattern": _WS_NAME}},
        "scalar": {"type": ["null", "boolean", "number", "string"]},
    }
    levels = MAX_DEPTH + 1
    for level in range(1, levels + 1):
        if level == levels:
            defs[f"app{level}"] = {"$ref": "#/$defs/scalar"}
            continue
        below = {"$ref": f"#/$defs/app{level + 1}"}
        defs[f"app{level}"] = {"anyOf": [
            {"$ref": "#/$defs/scalar"},
            {"type": "array", "maxItems": MAX_FIELDS, "items": below},
            {"type": "object", "maxProperties": MAX_FIELDS, "propertyNames": {"$ref": "#/$defs/name"},
             "additionalProperties": below},
        ]}
    return defs


def _nest_schema(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, schema in fields.items():
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = schema

    def build(node: dict[str, Any], required: set[str], prefix: str) -> dict[str, Any]:
        props: dict[str, Any] = {}
        need: list[str] = []
        for name, child in node.items():
            path = prefix + name
            if path in OWN_FIELDS:
                props[name] = child
            else:
                props[name] = build(child, required, path + ".")
            if any(r == path or r.startswith(path + ".") for r in required):
                need.append(name)
        out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
        if need:
            out["required"] = need
        return out

    return build(root, set(REQUIRED), "")


def record_schema(nested: bool = True) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a record as the ``logstash`` (nested) or ``json`` (flat) format writes it."""
    defs = _app_defs()
    top_name = {"allOf": [{"$ref": "#/$defs/name"}, {"not": {"pattern": "^_"}}]}
    if nested:
        own = _nest_schema(OWN_FIELDS)
        props = own["properties"]
        names: dict[str, Any] = top_name
        required = own["required"]
        title = "observe log record (logstash format: nested)"
    else:
        props = dict(OWN_FIELDS)
        names = {"anyOf": [{"enum": list(OWN_FIELDS)},
                           {"allOf": [top_name, {"not": {"enum": sorted(OWNED_NAMES)}}]}]}
        required = list(REQUIRED)
        title = "observe log record (json format: flat dotted keys)"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/observe/observe/record" + ("" if nested else ".flat") + ".schema.json",
        "title": title,
        "description": "Fields observe owns have one type; any other name is an application's field, "
                       "with names Elasticsearch accepts and bounded width and depth (see observe/logs/fields.py).",
        "type": "object",
        "required": required,
        "properties": props,
        "propertyNames": names,
        "additionalProperties": {"$ref": "#/$defs/app1"},
        "$defs": defs,
    }


SCHEMA_FILES = {"record.schema.json": True, "record.flat.schema.json": False}
"""The shipped schema files (beside this module) and whether each is the nested shape."""


def schema_text(nested: bool) -> str:
    """A schema file's exact content."""
    return json.dumps(record_schema(nested), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    """Write the schema files beside this module."""
    here = Path(__file__).resolve().parent
    for name, nested in SCHEMA_FILES.items():
        (here / name).write_text(schema_text(nested), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
